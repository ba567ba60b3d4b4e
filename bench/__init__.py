"""The benchmark harness (`make bench-quick`, `make bench`, `python -m bench --help`): what it
measures and why is in docs/performance.md; bench/run.py runs it, bench/parts.py
lists its parts. Nothing here is imported by the application."""
