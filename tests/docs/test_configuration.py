"""The configuration page is generated from the modules that read the environment."""

import re

from docsgen import configuration


def _page_variables() -> set[str]:
    return set(re.findall(r"^\| `([A-Z0-9_]+)` \|", configuration.OUT.read_text(), flags=re.MULTILINE))


def test_the_configuration_page_is_what_the_settings_generate():
    assert configuration.OUT.read_text() == configuration.render(), "run `python -m docsgen` and commit docs/"


def test_every_variable_the_settings_read_is_on_the_page_and_no_other():
    assert _page_variables() == set(configuration.variables())


def test_a_variable_read_without_a_meaning_stops_the_generation(monkeypatch):
    monkeypatch.delitem(configuration.MEANINGS, "CACHE_TTL_TODAY")
    try:
        configuration.render()
    except SystemExit as stop:
        assert "CACHE_TTL_TODAY" in str(stop)
    else:
        raise AssertionError("render() accepted a variable without a meaning")


def test_the_walk_finds_reads_through_the_env_helpers_and_os_environ():
    source = 'A = env_int("ONE", 3)\nB = os.environ.get("TWO", "x")\nC = os.environ["THREE"]\nD = env_bool("FOUR")\n'
    assert dict(configuration._reads(source)) == {"ONE": "3", "TWO": '"x"', "THREE": None, "FOUR": "False"}
