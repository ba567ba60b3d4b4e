"""Every generated part of the documentation, in one call."""

from pathlib import Path

from docsgen import configuration, figures, openapi, reliability


def generate() -> list[Path]:
    return [configuration.write(), openapi.write(), *figures.write(), *reliability.write()]
