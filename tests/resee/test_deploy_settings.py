"""Production settings pass Django's deployment checklist, and DEBUG is off unless asked for.

Each check runs `manage.py` in a fresh process, so the settings are read from exactly the
environment given (no pytest, no test defaults)."""

import os
import secrets
import subprocess
import sys

from django.conf import settings

PRODUCTION_ENV = settings.BASE_DIR / "deploy" / "production.env"


def production_env() -> dict:
    pairs = [line.split("=", 1) for line in PRODUCTION_ENV.read_text().splitlines() if line and line[0] != "#"]
    return dict(pairs)


def manage(*args: str, env: dict) -> subprocess.CompletedProcess:
    # Note: only PATH and the venv survive from this process; DEBUG or SECURE_* set here must not leak.
    base = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def secrets_of_a_deployment() -> dict:
    return {"SECRET_KEY": secrets.token_urlsafe(50), "METRICS_TOKEN": secrets.token_urlsafe(32)}


def test_check_deploy_is_clean_with_the_production_environment():
    env = {**production_env(), **secrets_of_a_deployment()}
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_flags_a_setup_without_https_hardening():
    env = {"SECRET_KEY": secrets.token_urlsafe(50), "ALLOWED_HOSTS": "api.resee.example"}
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode != 0
    assert "security.W004" in result.stderr and "security.W008" in result.stderr


def test_check_deploy_flags_a_public_metrics_page():
    env = {**production_env(), **secrets_of_a_deployment()}
    del env["METRICS_TOKEN"]
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode != 0
    assert "resee.W001" in result.stderr and "METRICS_TOKEN" in result.stderr


def test_debug_is_off_unless_the_environment_turns_it_on():
    show = ["shell", "-c", "from django.conf import settings; print(settings.DEBUG)"]
    assert manage(*show, env={"SECRET_KEY": "x" * 50}).stdout.splitlines()[-1] == "False"
    assert manage(*show, env={"DEBUG": "1"}).stdout.splitlines()[-1] == "True"
