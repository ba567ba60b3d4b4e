"""MkDocs hook (mkdocs.yml `hooks:`): the generated pages, the OpenAPI document and the charts are
written before the site is built, so the site always shows what the code and the committed
results say."""

import sys
from pathlib import Path

# Note: MkDocs loads a hook by its path; the packages it uses live at the repository's root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from docsgen import build  # noqa: E402

_done = False


def on_pre_build(config, **kwargs):
    # Note: once per process: `mkdocs serve` rebuilds on every edit and the inputs (code, results'
    # JSON) do not change under it; restart it to regenerate.
    global _done
    if not _done:
        build.generate()
        _done = True
