"""docker-compose.yml cannot be started here (no Docker engine), so it is checked by reading:
services, ports, health checks, mounted files and the environment the settings actually read."""

import re
from pathlib import Path

import pytest
import yaml
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def variables_read_by_settings() -> set[str]:
    source = (ROOT / "resee" / "settings.py").read_text()
    return set(re.findall(r'env_(?:str|bool|int|float|list)\(\s*"([A-Z_]+)"', source))


def test_compose_defines_web_postgres_and_redis_each_with_a_health_check():
    assert set(SERVICES) == {"web", "postgres", "redis"}
    for name, service in SERVICES.items():
        assert service["healthcheck"]["test"], name


def test_web_waits_for_healthy_postgres_and_redis():
    depends = SERVICES["web"]["depends_on"]
    assert depends == {"postgres": {"condition": "service_healthy"}, "redis": {"condition": "service_healthy"}}


def test_web_port_matches_what_gunicorn_binds():
    web = SERVICES["web"]
    container_port = web["ports"][0].split(":")[-1]
    assert web["environment"]["PORT"] == container_port
    assert (ROOT / "deploy" / "gunicorn.conf.py").is_file()
    assert "deploy/gunicorn.conf.py" in web["command"]
    assert "resee.wsgi:application" in web["command"]


def test_every_web_variable_is_one_the_settings_read():
    read = variables_read_by_settings() | {"PORT", "WEB_CONCURRENCY"}  # the last two: gunicorn.conf.py
    assert set(SERVICES["web"]["environment"]) <= read


def test_web_uses_the_redis_databases_the_settings_default_to():
    env = SERVICES["web"]["environment"]
    assert int(env["REDIS_DB_THROTTLE"]) == 0
    assert int(env["REDIS_DB_CACHE"]) == 1
    assert int(env["REDIS_DB_REVOCATION"]) == 4
    assert env["REDIS_URL"] == "redis://redis:6379"
    assert env["DATABASE_URL"].startswith("postgres://") and "@postgres:5432/" in env["DATABASE_URL"]


def test_web_runs_with_debug_off_and_takes_secrets_from_the_environment():
    env = SERVICES["web"]["environment"]
    assert env["DEBUG"] == "0"
    assert env["SECRET_KEY"].startswith("${SECRET_KEY")


def test_redis_mounts_the_repository_redis_conf_and_starts_with_it():
    redis = SERVICES["redis"]
    source, target, *_ = redis["volumes"][0].split(":")
    assert (ROOT / source).resolve() == ROOT / "redis.conf"
    assert target in redis["command"]


@pytest.mark.parametrize("directive", ["maxmemory 256mb", "maxmemory-policy allkeys-lru", 'save ""', "appendonly no"])
def test_redis_conf_caps_memory_and_keeps_nothing_on_disk(directive):
    lines = [line.strip() for line in (ROOT / "redis.conf").read_text().splitlines()]
    assert directive in lines


def test_the_image_the_web_service_builds_exists():
    assert SERVICES["web"]["build"] == "."
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "requirements.txt" in dockerfile
