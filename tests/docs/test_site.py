"""The site builds strict: a broken link, a missing page or a bad anchor fails. In CI it must run;
elsewhere it skips, saying so, when MkDocs is not installed (`make docs-build` installs it)."""

import subprocess
import sys
from pathlib import Path

from tests.helpers import docs_tool

REPO = Path(__file__).resolve().parents[2]


def test_the_documentation_site_builds_strict(tmp_path):
    docs_tool("mkdocs")
    docs_tool("material")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert (tmp_path / "site" / "api-reference" / "index.html").exists()
