"""docker-compose.yml cannot be started here (no Docker engine), so it is checked by reading:
services, images, ports, health checks, start order, mounted files, the environment the settings
actually read, and the files the observability services are given (Prometheus scrape targets and
rules, Grafana data source and dashboards) against the services that exist. redis.conf is checked
by a real redis-server started on it."""

import json
import re
import resource
import shutil
import subprocess
import time
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import pytest
import redis
import yaml
from django.conf import settings
from django.urls import resolve

from tests.helpers import SECRET_NAME, variables_the_app_reads
from tests.servers import free_loopback_port, require_binary, terminate

ROOT = Path(settings.BASE_DIR)
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
GRAFANA_PROVISIONING = ROOT / "deploy" / "grafana" / "provisioning"

REQUIRED_VARIABLE = re.compile(r"^\$\{(?P<name>[A-Z_][A-Z0-9_]*):\?[^}]+\}$")
# The password of a URL with credentials (`scheme://user:password@host`); urlsplit would stop at
# the `?` of a `${VAR:?message}`.
URL_PASSWORD = re.compile(r"://[^:/@]+:(.*)@")
REDIS_START_SECONDS = 5.0


# --- Reading the compose file ----------------------------------------------------------------------


def interpolate(value: str) -> str:
    """What compose makes of a value with nothing set in the environment: `${VAR:-default}` gives
    the default, a required `${VAR:?message}` a `<VAR>` placeholder."""

    def substitute(match: re.Match) -> str:
        name, operator, argument = match.group(1), match.group(2) or "", match.group(3) or ""
        return argument if operator.endswith("-") else f"<{name}>"

    return re.sub(r"\$\{([A-Z_][A-Z0-9_]*)(:?[-?])?([^}]*)\}", substitute, str(value))


def container_ports(name: str) -> set[int]:
    """The ports a service listens on inside the network: published ones and `expose`d ones."""
    service = SERVICES[name]
    published = {int(str(mapping).split(":")[-1].split("/")[0]) for mapping in service.get("ports", [])}
    return published | {int(port) for port in service.get("expose", [])}


def bind_mounts(name: str) -> list[tuple[str, str]]:
    """(host path, container path) of a service's bind mounts; named volumes are left out."""
    mounts = []
    for volume in SERVICES[name].get("volumes", []):
        source, target, *_ = volume.split(":")
        if source.startswith((".", "/")):
            mounts.append((source, target))
    return mounts


def service_for_host(host: str, *, seen_from: str) -> str:
    """The service a host name reaches from inside `seen_from`'s container."""
    return seen_from if host in ("localhost", "127.0.0.1") else host


def redis_conf_directives(path: Path = ROOT / "redis.conf") -> dict[str, str]:
    directives = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition(" ")
            directives[name.lower()] = value.strip().strip('"')
    return directives


def redis_bytes(value: str) -> str:
    """redis.conf memory units as CONFIG GET reports them: 1k = 1000, 1kb = 1024, and so on."""
    match = re.fullmatch(r"(\d+)(k|kb|m|mb|g|gb)", value.lower())
    if not match:
        return value
    scale = {"k": 10**3, "kb": 2**10, "m": 10**6, "mb": 2**20, "g": 10**9, "gb": 2**30}[match.group(2)]
    return str(int(match.group(1)) * scale)


# --- The deploy/ files the observability services mount ---------------------------------------------


def prometheus_config() -> dict:
    return yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())


def prometheus_targets() -> list[tuple[dict, str, int]]:
    """(scrape job, host, port) of every static target in prometheus.yml."""
    targets = []
    for job in prometheus_config()["scrape_configs"]:
        for static in job.get("static_configs", []):
            for target in static["targets"]:
                host, _, port = target.rpartition(":")
                targets.append((job, host, int(port)))
    return targets


def grafana_provisioning(kind: str) -> list[dict]:
    files = sorted((GRAFANA_PROVISIONING / kind).glob("*.y*ml"))
    return [yaml.safe_load(path.read_text()) or {} for path in files]


# --- Services, images, health checks, start order ---------------------------------------------------


def test_compose_defines_the_app_and_the_observability_services_each_with_a_health_check():
    assert set(SERVICES) == {
        *("web", "worker", "postgres", "redis", "rabbitmq"),
        *("redis_exporter", "prometheus", "grafana"),
    }
    for name, service in SERVICES.items():
        test = service["healthcheck"]["test"]
        assert test and test[0] in ("CMD", "CMD-SHELL") and len(test) > 1, name
        assert not service["healthcheck"].get("disable"), name


def health_check_urls(name: str) -> list[tuple[int, str]]:
    """(port, path) of every loopback URL a service's health check asks."""
    command = " ".join(SERVICES[name]["healthcheck"]["test"])
    return [(int(port), path) for port, path in re.findall(r"http://127\.0\.0\.1:(\d+)(/[^'\" ]*)", command)]


@pytest.mark.parametrize(
    ("name", "port", "path"),
    [
        ("web", 8000, "/api/health/"),
        ("redis_exporter", 9121, "/health"),
        ("prometheus", 9090, "/-/healthy"),
        ("grafana", 3000, "/api/health"),
    ],
)
def test_each_http_health_check_asks_its_own_service_s_health_endpoint(name, port, path):
    assert health_check_urls(name) == [(port, path)]
    assert port in container_ports(name)


def test_the_web_health_check_asks_the_readiness_view():
    [(_, path)] = health_check_urls("web")
    assert resolve(path).url_name == "health"


def test_the_exporter_image_has_the_wget_its_health_check_runs():
    # The default redis_exporter image is FROM scratch: no shell, no wget.
    assert SERVICES["redis_exporter"]["healthcheck"]["test"][1] == "wget"
    assert SERVICES["redis_exporter"]["image"].endswith("-alpine")


@pytest.mark.parametrize("name", sorted(name for name in SERVICES if "image" in SERVICES[name]))
def test_every_image_is_pinned_to_a_version(name):
    repository, _, tag = SERVICES[name]["image"].rpartition(":")
    assert repository and "/" not in tag, f"{name}: no tag means latest"
    assert re.fullmatch(r"v?\d+(\.\d+)*(-[a-z0-9]+)?", tag), f"{name}: {tag!r} is not a version"


def test_services_start_in_dependency_order_without_blocking_monitoring():
    healthy, started = {"condition": "service_healthy"}, {"condition": "service_started"}
    depends = {name: service.get("depends_on", {}) for name, service in SERVICES.items()}
    assert depends == {
        # The API serves without the broker (an import then answers 503); the worker needs both.
        "web": {"postgres": healthy, "redis": healthy},
        "worker": {"web": healthy, "rabbitmq": healthy},
        "postgres": {},
        "redis": {},
        "rabbitmq": {},
        # Monitoring must come up exactly when what it watches is sick.
        "redis_exporter": {"redis": started},
        "prometheus": {"web": started, "redis_exporter": started},
        "grafana": {"prometheus": healthy},
    }


# --- Ports ------------------------------------------------------------------------------------------


def test_web_port_matches_what_the_production_server_binds():
    web = SERVICES["web"]
    container_port = web["ports"][0].split(":")[-1]
    assert web["environment"]["PORT"] == container_port
    assert web["command"].split("&&")[-1].strip(' \n"').split() == ["exec", "python", "-m", "resee.serve"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.findall(r"^CMD (.+)$", dockerfile, re.MULTILINE)[-1] == '["python", "-m", "resee.serve"]'


@pytest.mark.parametrize(("name", "port"), [("redis_exporter", 9121), ("prometheus", 9090), ("grafana", 3000)])
def test_observability_ports_are_published_on_the_host_loopback_only(name, port):
    assert SERVICES[name]["ports"] == [f"127.0.0.1:{port}:{port}"]


@pytest.mark.parametrize(("name", "port"), [("postgres", 5432), ("redis", 6379), ("rabbitmq", 5672)])
def test_postgres_redis_and_rabbitmq_are_reachable_on_the_network_but_not_published(name, port):
    assert "ports" not in SERVICES[name]
    assert container_ports(name) == {port}


@pytest.mark.parametrize("name", ["web", "worker"])
def test_the_app_services_reach_postgres_redis_and_rabbitmq_on_ports_they_listen_on(name):
    env = SERVICES[name]["environment"]
    for url in (
        interpolate(env["DATABASE_URL"]),
        env["REDIS_URL"],
        interpolate(env["CELERY_BROKER_URL"]),
        SERVICES["redis_exporter"]["environment"]["REDIS_ADDR"],
    ):
        parts = urlsplit(url)
        assert parts.port in container_ports(parts.hostname), url


def test_the_broker_credentials_are_the_ones_rabbitmq_is_given():
    broker = urlsplit(interpolate(SERVICES["worker"]["environment"]["CELERY_BROKER_URL"]))
    rabbitmq = SERVICES["rabbitmq"]["environment"]
    assert (broker.username, broker.password) == (
        rabbitmq["RABBITMQ_DEFAULT_USER"],
        interpolate(rabbitmq["RABBITMQ_DEFAULT_PASS"]),
    )


def test_the_worker_runs_the_celery_app_of_the_project_and_its_health_check_pings_itself():
    command = SERVICES["worker"]["command"]
    assert command[:4] == ["celery", "-A", "resee.celery", "worker"]
    assert (ROOT / "resee" / "celery.py").is_file()
    check = SERVICES["worker"]["healthcheck"]["test"]
    assert check[0] == "CMD-SHELL" and "resee.celery inspect ping" in check[1]
    # $$ is compose's escape: the container's shell, not compose, expands HOSTNAME.
    assert "celery@$$HOSTNAME" in check[1]
    assert SERVICES["worker"]["build"] == SERVICES["web"]["build"]


def test_web_and_worker_share_one_database_redis_and_broker():
    web, worker = SERVICES["web"]["environment"], SERVICES["worker"]["environment"]
    shared = {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "TIME_ZONE"}
    shared |= {name for name in web if name.startswith("REDIS_DB_")}
    assert {name: web[name] for name in shared} == {name: worker.get(name) for name in shared}


# --- Mounts -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(name for name in SERVICES if bind_mounts(name)))
def test_every_mounted_host_path_exists_in_the_repository(name):
    for source, target in bind_mounts(name):
        path = ROOT / source
        assert path.exists(), f"{name} mounts {source}, which is not in the repository"
        # A file mounted where the container expects a file, a directory where it expects one.
        assert path.is_file() == bool(PurePosixPath(target).suffix), (name, source, target)


def test_every_file_of_the_repository_is_mounted_read_only():
    for name in SERVICES:
        for volume in SERVICES[name].get("volumes", []):
            parts = volume.split(":")
            if parts[0].startswith((".", "/")):
                assert parts[2:] == ["ro"], (name, volume)


def test_every_named_volume_is_declared():
    declared = set(COMPOSE.get("volumes") or {})
    for service in SERVICES.values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            assert source.startswith((".", "/")) or source in declared, volume


# --- The web service's environment -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["web", "worker"])
def test_every_app_variable_is_one_the_settings_read(name):
    read = variables_the_app_reads()
    assert set(SERVICES[name]["environment"]) <= read


def test_web_uses_the_redis_databases_the_settings_default_to():
    env = SERVICES["web"]["environment"]
    assert int(env["REDIS_DB_THROTTLE"]) == 0
    assert int(env["REDIS_DB_CACHE"]) == 1
    assert int(env["REDIS_DB_JOBS"]) == 2
    assert int(env["REDIS_DB_RESULTS"]) == 3
    assert int(env["REDIS_DB_REVOCATION"]) == 4
    assert env["REDIS_URL"] == "redis://redis:6379"
    assert env["DATABASE_URL"].startswith("postgres://") and "@postgres:5432/" in env["DATABASE_URL"]


def test_web_runs_with_debug_off_and_takes_secrets_from_the_environment():
    env = SERVICES["web"]["environment"]
    assert env["DEBUG"] == "0"
    assert env["SECRET_KEY"].startswith("${SECRET_KEY")


def test_the_prometheus_multiprocess_directory_is_a_fresh_tmpfs_of_the_web_service():
    directory = SERVICES["web"]["environment"]["PROMETHEUS_MULTIPROC_DIR"]
    tmpfs = [entry.split(":")[0] for entry in SERVICES["web"]["tmpfs"]]
    assert directory in tmpfs


def test_the_image_the_web_service_builds_runs_as_a_user_that_owns_the_metrics_directory():
    assert SERVICES["web"]["build"] == "."
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "requirements.txt" in dockerfile
    user = re.findall(r"^USER (\S+)$", dockerfile, re.MULTILINE)[-1]
    assert user != "root"
    # Without the tmpfs, `migrate` would fail on a missing directory before resee.serve makes it.
    directory = SERVICES["web"]["environment"]["PROMETHEUS_MULTIPROC_DIR"]
    assert re.search(rf"install -d -o {user} -g {user} {directory}$", dockerfile, re.MULTILINE)


def test_the_image_never_contains_the_env_file_compose_reads_secrets_from():
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert ".env" in ignored


def test_no_secret_is_written_in_the_compose_file():
    for name, service in SERVICES.items():
        for variable, value in (service.get("environment") or {}).items():
            value = str(value)
            if SECRET_NAME.search(variable):
                assert REQUIRED_VARIABLE.match(value), f"{name}.{variable} must be ${{{variable}:?...}}"
            credentials = URL_PASSWORD.search(value)
            if credentials:
                assert REQUIRED_VARIABLE.match(credentials.group(1)), f"{name}.{variable} has a literal password"


def test_grafana_takes_its_admin_password_from_the_environment():
    env = SERVICES["grafana"]["environment"]
    assert REQUIRED_VARIABLE.match(env["GF_SECURITY_ADMIN_PASSWORD"])
    assert env["GF_USERS_ALLOW_SIGN_UP"] == "false"


# --- What Prometheus and Grafana are given -------------------------------------------------------------


def test_prometheus_scrapes_services_and_ports_that_exist():
    targets = prometheus_targets()
    assert targets
    for job, host, port in targets:
        service = service_for_host(host, seen_from="prometheus")
        assert service in SERVICES, f"job {job['job_name']}: no service {host!r}"
        assert port in container_ports(service), f"job {job['job_name']}: {service} does not listen on {port}"
    scraped = {service_for_host(host, seen_from="prometheus") for _, host, _ in targets}
    assert {"web", "redis_exporter"} <= scraped


def test_prometheus_scrapes_the_django_metrics_view_with_a_host_django_accepts():
    allowed = interpolate(SERVICES["web"]["environment"]["ALLOWED_HOSTS"]).split(",")
    web_jobs = [(job, host) for job, host, _ in prometheus_targets() if host == "web"]
    assert web_jobs
    for job, host in web_jobs:
        assert resolve(job.get("metrics_path", "/metrics")).url_name == "prometheus-django-metrics"
        assert host in allowed, f"Django would answer 400 to Host: {host}"


def test_prometheus_presents_the_metrics_token_the_web_service_requires():
    """The compose secret holds the same variable web reads as METRICS_TOKEN, and Prometheus reads
    it where compose mounts it; without the token web's /metrics answers 401."""
    assert interpolate(SERVICES["web"]["environment"]["METRICS_TOKEN"]) == "<METRICS_TOKEN>"
    assert COMPOSE["secrets"]["metrics_token"] == {"environment": "METRICS_TOKEN"}
    assert "metrics_token" in SERVICES["prometheus"]["secrets"]
    web_jobs = [job for job, host, _ in prometheus_targets() if host == "web"]
    for job in web_jobs:
        assert job["authorization"]["credentials_file"] == "/run/secrets/metrics_token"


def test_prometheus_loads_its_rules_from_the_mounted_rules_file():
    mounted = {target for _, target in bind_mounts("prometheus")}
    rule_files = prometheus_config()["rule_files"]
    assert rule_files
    for rule_file in rule_files:
        assert str(PurePosixPath("/etc/prometheus") / rule_file) in mounted, rule_file


def test_the_connected_clients_alert_fires_before_redis_refuses_clients():
    rules = yaml.safe_load((PROMETHEUS_DIR / "rules.yml").read_text())
    expressions = [rule.get("expr", "") for group in rules["groups"] for rule in group["rules"]]
    thresholds = [
        int(match)
        for expr in expressions
        if "redis_connected_clients" in expr
        for match in re.findall(r">\s*(\d+)", expr)
    ]
    assert thresholds, "no alert on redis_connected_clients"
    assert max(thresholds) < int(redis_conf_directives()["maxclients"])


def test_grafana_reads_prometheus_at_the_prometheus_service_port():
    sources = [ds for config in grafana_provisioning("datasources") for ds in config.get("datasources", [])]
    prometheus = [ds for ds in sources if ds.get("type") == "prometheus"]
    assert prometheus
    for source in prometheus:
        url = urlsplit(source["url"])
        assert url.scheme == "http" and url.hostname == "prometheus", source["url"]
        assert url.port in container_ports("prometheus"), source["url"]


def test_grafana_loads_dashboards_from_the_mounted_dashboards_directory():
    mounted = {PurePosixPath(target): ROOT / source for source, target in bind_mounts("grafana")}
    providers = [p for config in grafana_provisioning("dashboards") for p in config.get("providers", [])]
    assert providers
    for provider in providers:
        path = PurePosixPath(provider["options"]["path"])
        target = next((t for t in mounted if path == t or t in path.parents), None)
        assert target is not None, f"dashboards provider reads {path}, which nothing mounts"
        assert list((mounted[target] / path.relative_to(target)).glob("*.json")), path


def datasource_references(node) -> list[dict]:
    """Every `"datasource": {...}` object anywhere in a dashboard."""
    if isinstance(node, list):
        return [ref for item in node for ref in datasource_references(item)]
    if not isinstance(node, dict):
        return []
    own = [node["datasource"]] if isinstance(node.get("datasource"), dict) else []
    return own + [ref for value in node.values() for ref in datasource_references(value)]


def test_every_dashboard_panel_uses_a_provisioned_data_source():
    uids = {ds["uid"] for config in grafana_provisioning("datasources") for ds in config.get("datasources", [])}
    dashboards = sorted((ROOT / "deploy" / "grafana" / "dashboards").glob("*.json"))
    assert dashboards
    for path in dashboards:
        references = datasource_references(json.loads(path.read_text()))
        assert references, path.name
        assert {ref["uid"] for ref in references} <= uids, path.name


# --- Redis ------------------------------------------------------------------------------------------


def test_redis_mounts_the_repository_redis_conf_and_starts_with_it():
    redis_service = SERVICES["redis"]
    source, target, *_ = redis_service["volumes"][0].split(":")
    assert (ROOT / source).resolve() == ROOT / "redis.conf"
    assert target in redis_service["command"]


@pytest.mark.parametrize(
    "directive",
    ["maxmemory 256mb", "maxmemory-policy allkeys-lru", 'save ""', "appendonly no", "maxclients 10000"],
)
def test_redis_conf_caps_memory_and_clients_and_keeps_nothing_on_disk(directive):
    lines = [line.strip() for line in (ROOT / "redis.conf").read_text().splitlines()]
    assert directive in lines


def test_the_redis_container_may_open_as_many_files_as_maxclients_needs():
    # Redis keeps 32 descriptors for itself and silently lowers maxclients below the limit.
    nofile = SERVICES["redis"]["ulimits"]["nofile"]
    assert nofile["soft"] >= int(redis_conf_directives()["maxclients"]) + 32


def test_the_redis_conf_databases_cover_every_purpose_in_the_settings():
    databases = int(redis_conf_directives()["databases"])
    assert max(settings.REDIS_DB_THROTTLE, settings.REDIS_DB_CACHE, settings.REDIS_DB_REVOCATION) < databases


def open_files_limit_for(needed: int) -> int:
    """The soft descriptor limit to give a child: `needed` if the hard limit allows it, else the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard >= needed:
        return max(soft, needed)
    return hard


def set_open_files_limit(soft: int):
    return lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (soft, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))


@pytest.fixture
def redis_on_the_conf(tmp_path):
    """A redis-server of this test on a copy of redis.conf, on a free loopback port (never 6379)."""
    binary = require_binary("redis-server")
    conf = tmp_path / "redis.conf"
    shutil.copyfile(ROOT / "redis.conf", conf)
    port = free_loopback_port()
    # Note: the shared Redis owns 6379, and nothing of this server may land in the repository.
    overrides = {"port": port, "bind": "127.0.0.1", "dir": tmp_path, "daemonize": "no"}
    needed = int(redis_conf_directives()["maxclients"]) + 32
    limit = open_files_limit_for(needed)
    command = [binary, str(conf), *(arg for name, value in overrides.items() for arg in (f"--{name}", str(value)))]
    with open(tmp_path / "redis.log", "wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, preexec_fn=set_open_files_limit(limit)
        )
    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=2, socket_connect_timeout=2, decode_responses=True)
    try:
        deadline = time.monotonic() + REDIS_START_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(f"redis-server refused redis.conf:\n{(tmp_path / 'redis.log').read_text()[-2000:]}")
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    pytest.fail(f"redis-server did not answer PING within {REDIS_START_SECONDS} s")
                time.sleep(0.02)
        yield client, set(overrides) | (set() if limit >= needed else {"maxclients"})
    finally:
        client.close()
        terminate(process)


def test_redis_server_runs_with_the_memory_policy_of_redis_conf(redis_on_the_conf):
    client, _overridden = redis_on_the_conf
    assert client.config_get("maxmemory-policy") == {"maxmemory-policy": "allkeys-lru"}
    assert client.config_get("maxmemory") == {"maxmemory": str(256 * 1024 * 1024)}
    assert client.config_get("save") == {"save": ""}


def test_every_directive_of_redis_conf_takes_effect(redis_on_the_conf):
    client, overridden = redis_on_the_conf
    for name, value in redis_conf_directives().items():
        if name in overridden:
            continue
        assert client.config_get(name) == {name: redis_bytes(value)}, name
