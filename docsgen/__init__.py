"""The documentation's generated parts: the configuration reference (from the modules that read
the environment), the OpenAPI document the API reference renders, and the performance, sizing and
reliability figures (from the committed results' JSON). `python -m docsgen` writes them all; the
MkDocs hook (`docsgen/hooks.py`) runs the same before every build."""
