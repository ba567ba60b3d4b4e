"""How much of the project a hit passes through, traced with sys.setprofile through the test client:
the read path stays one short sequence a newcomer can follow."""

import sys
from pathlib import Path

import pytest

from tests.helpers import HIT, URLS

ROOT = Path(__file__).resolve().parents[3]
# Note: where a today hit stands, as a ratchet: lower the bounds as the hit slims, raise them only
# for a feature a hit needs, saying which. Project code only: Django's, DRF's, the libraries' and
# the tests' own frames are not counted.
MAX_FILES, MAX_FUNCTIONS = 10, 40
_COMPREHENSIONS = ("<listcomp>", "<dictcomp>", "<setcomp>")


def project_calls(call) -> list[tuple[str, str]]:
    """(file, function) of every call into the project's code while `call()` runs, in order."""
    calls = []

    def profile(frame, event, arg):
        if event != "call":
            return
        filename = frame.f_code.co_filename
        name = frame.f_code.co_qualname
        # Note: a list, dict or set comprehension is a frame of its own only before Python 3.12,
        # which inlines it (PEP 709): not a function anybody reads.
        if name.endswith(_COMPREHENSIONS):
            return
        if filename.startswith(str(ROOT)) and "/.venv/" not in filename and "/tests/" not in filename:
            calls.append((str(Path(filename).relative_to(ROOT)), name))

    sys.setprofile(profile)
    try:
        result = call()
    finally:
        sys.setprofile(None)
    return result, calls


@pytest.mark.parametrize("endpoint", ["today"])
def test_a_hit_passes_few_project_files_and_functions(alice, endpoint):
    url = URLS[endpoint]
    alice.get(url), alice.get(url)  # stored, then a hit: every lazy import and memo is warm
    response, calls = project_calls(lambda: alice.get(url))
    assert response.status_code == 200 and response["X-Cache"] == HIT
    files, functions = {file for file, _ in calls}, set(calls)
    report = "\n".join(f"{file}:{function}" for file, function in sorted(functions))
    assert len(files) <= MAX_FILES, f"{len(files)} files, {len(functions)} functions:\n{report}"
    assert len(functions) <= MAX_FUNCTIONS, f"{len(files)} files, {len(functions)} functions:\n{report}"
