"""The OpenAPI document the API reference page renders, written by drf-spectacular itself
(`manage.py spectacular`) in a process of its own, on the embedded defaults."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "var" / "docs" / "openapi.json"


def write() -> Path:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "DEBUG": "1", "SECRET_KEY": os.environ.get("SECRET_KEY") or "docs-build-only"}
    for name in ("DATABASE_URL", "REDIS_URL"):
        env.pop(name, None)  # the schema needs no server
    command = [sys.executable, "manage.py", "spectacular", "--format", "openapi-json", "--validate", "--file", str(OUT)]
    subprocess.run(command, cwd=REPO, env=env, check=True)
    return OUT
