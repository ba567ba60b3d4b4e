"""No page, README line or code comment names this project's own issue or stop numbers: history
lives in CHANGELOG.md, and that too says what changed, not which ticket."""

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PATTERN = re.compile(r"stop [0-9]+|issue [0-9]+", re.IGNORECASE)
SUFFIXES = {".py", ".md", ".yml", ".yaml", ".js"}
# References to upstream projects' trackers, by file and the words around them.
UPSTREAM: set[tuple[str, str]] = set()


def _tracked_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True, text=True)
    names = listed.stdout.splitlines() if listed.returncode == 0 else []
    return [REPO / name for name in names if Path(name).suffix in SUFFIXES and (REPO / name).is_file()]


def test_nothing_names_our_issue_or_stop_numbers():
    found = []
    for path in _tracked_files():
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            for match in PATTERN.finditer(line):
                if (path.relative_to(REPO).as_posix(), match.group(0).lower()) not in UPSTREAM:
                    found.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert found == []


def test_the_check_would_see_an_issue_number():
    assert PATTERN.search("as asked in Issue " + "13, stop " + "24")
