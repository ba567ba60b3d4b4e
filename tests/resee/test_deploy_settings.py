"""Production settings pass Django's deployment checklist, and DEBUG is off unless asked for.

Each check runs `manage.py` in a fresh process, so the settings are read from exactly the
environment given (no pytest, no test defaults)."""

import os
import re
import secrets
import subprocess
import sys

import pytest
import yaml
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


def test_check_deploy_flags_cors_open_to_every_origin_and_production_allows_none():
    assert "CORS_ALLOWED_ORIGINS" not in production_env()
    env = {**production_env(), **secrets_of_a_deployment(), "CORS_ALLOWED_ORIGINS": "*"}
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode != 0
    assert "resee.W002" in result.stderr


@pytest.mark.parametrize(
    ("origins", "credentials"),
    [("", "False"), ("https://app.example,https://admin.example", "True"), ("https://app.example,*", "False")],
)
def test_cors_credentials_go_to_listed_origins_only_never_with_a_wildcard(origins, credentials):
    show = ["shell", "-c", "from django.conf import settings; print(settings.CORS_ALLOW_CREDENTIALS)"]
    result = manage(*show, env={**secrets_of_a_deployment(), "CORS_ALLOWED_ORIGINS": origins})
    assert result.stdout.splitlines()[-1] == credentials, result.stderr


def test_the_refresh_cookie_is_secure_unless_debug_is_on():
    show = ["shell", "-c", "from django.conf import settings; print(settings.REFRESH_COOKIE_SECURE)"]
    assert manage(*show, env=secrets_of_a_deployment()).stdout.splitlines()[-1] == "True"
    assert manage(*show, env={"DEBUG": "1"}).stdout.splitlines()[-1] == "False"


def test_mail_goes_over_smtp_from_the_environment_and_to_the_console_under_debug():
    code = "from django.conf import settings as s; print(s.EMAIL_BACKEND.split('.')[-2], s.EMAIL_HOST, s.EMAIL_PORT)"
    env = {**secrets_of_a_deployment(), "EMAIL_HOST": "smtp.example", "EMAIL_PORT": "2525"}
    assert manage("shell", "-c", code, env=env).stdout.splitlines()[-1] == "smtp smtp.example 2525"
    assert manage("shell", "-c", code, env={"DEBUG": "1"}).stdout.splitlines()[-1].split()[0] == "console"


def test_debug_is_off_unless_the_environment_turns_it_on():
    show = ["shell", "-c", "from django.conf import settings; print(settings.DEBUG)"]
    assert manage(*show, env={"SECRET_KEY": "x" * 50}).stdout.splitlines()[-1] == "False"
    assert manage(*show, env={"DEBUG": "1"}).stdout.splitlines()[-1] == "True"


def test_without_a_secret_key_the_app_refuses_to_start():
    result = manage("check", env={"DEBUG": "0"})
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off." in result.stderr


def tracked_files() -> list[str]:
    listing = subprocess.run(["git", "ls-files"], cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=30)
    assert listing.returncode == 0, listing.stderr
    return listing.stdout.splitlines()


def test_no_secret_is_committed():
    """No key material, no env file or generated key, and every secret the stack needs is a
    required interpolation of the operator's environment, never a value."""
    files = tracked_files()
    assert not [name for name in files if name.startswith("var/") or name.rsplit("/", 1)[-1] == ".env"]
    private_key = "PRIVATE KEY" + "-----"  # split, so this file does not match itself
    holding_keys = [name for name in files if private_key in (settings.BASE_DIR / name).read_text(errors="replace")]
    assert holding_keys == []
    secret_names = re.compile(r"SECRET|PASSWORD|TOKEN")
    assert not [name for name in production_env() if secret_names.search(name)]
    compose = yaml.safe_load((settings.BASE_DIR / "docker-compose.yml").read_text())
    for service in compose["services"].values():
        for name, value in service.get("environment", {}).items():
            if secret_names.search(name):
                assert re.fullmatch(r"\$\{[A-Z_]+:\?[^}]+\}", str(value)), (name, value)


@pytest.mark.parametrize(
    ("redis", "named"),
    [
        ({"REDIS_MODE": "sharded"}, "REDIS_MODE"),
        ({"REDIS_MODE": "cluster"}, "REDIS_URL"),
        ({"REDIS_MODE": "sentinel"}, "REDIS_SENTINELS"),
        ({"REDIS_MODE": "sentinel", "REDIS_SENTINELS": "10.0.0.1:26379,10.0.0.2"}, "REDIS_SENTINELS"),
    ],
)
def test_a_redis_mode_without_what_it_needs_stops_the_start_naming_the_variable(redis, named):
    result = manage("check", env={**secrets_of_a_deployment(), **redis})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and named in result.stderr.splitlines()[-1]


def test_a_sentinel_deployment_keeps_celery_results_on_the_sentinels_master():
    env = {**secrets_of_a_deployment(), "REDIS_MODE": "sentinel", "REDIS_SENTINELS": "10.0.0.1:26379,10.0.0.2:26380"}
    code = (
        "from django.conf import settings as s; "
        "print(s.CELERY_RESULT_BACKEND, s.CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS['master_name'])"
    )
    result = manage("shell", "-c", code, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].split() == [
        "sentinel://10.0.0.1:26379/3;sentinel://10.0.0.2:26380/3",
        "resee",
    ]
