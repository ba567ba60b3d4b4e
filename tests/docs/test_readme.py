"""The README is a front page: short, with the two commands and links into the documentation."""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text()


def test_the_readme_is_at_most_200_lines():
    assert len(README.splitlines()) <= 200


def test_the_readme_gives_the_two_commands():
    assert "make run" in README and "make test" in README


def test_every_link_of_the_readme_into_the_repository_exists():
    targets = re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", README)
    assert targets
    assert [target for target in targets if not (REPO / target).exists()] == []


def test_the_curl_session_the_site_includes_is_marked_in_the_readme():
    assert "<!-- --8<-- [start:curl] -->" in README and "<!-- --8<-- [end:curl] -->" in README
