"""deploy/k8s cannot be applied here (no cluster), so it is checked by reading: every manifest
against the Kubernetes 1.37 schemas (kubernetes-validate carries them, strict: an unknown field is
an error), and its images, ports, environment, probes and selectors against the settings, the
repository's redis.conf and docker-compose.yml."""

from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from django.conf import settings
from django.urls import resolve

from tests.helpers import SECRET_NAME, variables_the_app_reads

ROOT = Path(settings.BASE_DIR)
K8S = ROOT / "deploy" / "k8s"
KUBERNETES = "1.37.0"
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
DOCUMENTS = [(path.name, doc) for path in sorted(K8S.glob("*.yaml")) for doc in yaml.safe_load_all(path.read_text())]
# URLs that carry credentials: only ever from the secret.
CREDENTIAL_URLS = {"DATABASE_URL", "CELERY_BROKER_URL"}


def kind(name: str) -> list[dict]:
    return [doc for _, doc in DOCUMENTS if doc["kind"] == name]


def named(kind_name: str, name: str) -> dict:
    [doc] = [doc for doc in kind(kind_name) if doc["metadata"]["name"] == name]
    return doc


def pod_spec(workload: dict) -> dict:
    return workload["spec"]["template"]["spec"]


def container(workload_name: str, kind_name: str = "Deployment") -> dict:
    [only] = pod_spec(named(kind_name, workload_name))["containers"]
    return only


def config_map(name: str) -> dict:
    return named("ConfigMap", name)["data"]


def env_names(entry: dict) -> set[str]:
    """Every variable a container gets: its own and those of the ConfigMaps it takes whole."""
    names = {variable["name"] for variable in entry.get("env", [])}
    for source in entry.get("envFrom", []):
        names |= set(config_map(source["configMapRef"]["name"]))
    return names


def env_value(entry: dict, name: str):
    for variable in entry.get("env", []):
        if variable["name"] == name:
            return variable.get("value", variable.get("valueFrom"))
    for source in entry.get("envFrom", []):
        data = config_map(source["configMapRef"]["name"])
        if name in data:
            return data[name]
    raise KeyError(name)


@pytest.mark.parametrize(
    "document", [doc for _, doc in DOCUMENTS if doc["kind"] != "ServiceMonitor"], ids=lambda doc: doc["kind"]
)
def test_every_manifest_is_valid_against_the_kubernetes_schemas(document):
    kubernetes_validate.validate(document, KUBERNETES, strict=True)


def test_the_schema_check_refuses_a_misspelt_field():
    broken = yaml.safe_load(yaml.safe_dump(named("Deployment", "web")))
    pod_spec(broken)["containers"][0]["readinessProbes"] = pod_spec(broken)["containers"][0].pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES, strict=True)


def test_the_manifests_hold_the_web_worker_redis_exporter_migration_autoscaler_and_monitors():
    present = {(doc["kind"], doc["metadata"]["name"]) for _, doc in DOCUMENTS}
    assert {
        ("Deployment", "web"),
        ("Deployment", "worker"),
        ("Deployment", "redis"),
        ("Deployment", "redis-exporter"),
        ("Job", "migrate"),
        ("HorizontalPodAutoscaler", "web"),
        ("Service", "web"),
        ("ServiceMonitor", "resee-web"),
        ("ServiceMonitor", "redis-exporter"),
    } <= present
    assert not kind("Secret"), "secrets are referenced, never written into the manifests"


# --- Images, ports, probes ---------------------------------------------------------------------


def test_images_are_pinned_and_match_the_compose_services():
    app_images = {container(name)["image"] for name in ("web", "worker")} | {container("migrate", "Job")["image"]}
    assert len(app_images) == 1, app_images
    for image in app_images | {container("redis")["image"], container("redis-exporter")["image"]}:
        assert ":" in image and not image.endswith(":latest"), image
    assert container("redis")["image"] == COMPOSE["redis"]["image"]
    assert container("redis-exporter")["image"] == COMPOSE["redis_exporter"]["image"]


def test_the_web_pods_serve_on_the_port_the_production_server_binds_and_are_ready_on_the_health_view():
    web = container("web")
    [port] = web["ports"]
    assert int(env_value(web, "PORT")) == port["containerPort"] == int(COMPOSE["web"]["environment"]["PORT"])
    probe = web["readinessProbe"]["httpGet"]
    assert resolve(probe["path"]).url_name == "health"
    assert probe["port"] == port["name"]
    # Note: liveness must not be the health view, whose 503 during a database outage would restart pods.
    assert "httpGet" not in web["livenessProbe"]
    assert web["command"] == ["python", "-m", "resee.serve"]


def test_the_worker_runs_the_compose_workers_celery_app():
    assert container("worker")["command"][:4] == COMPOSE["worker"]["command"][:4]


def test_every_service_selects_the_pods_of_a_workload_on_a_port_they_name():
    workloads = kind("Deployment")
    for service in kind("Service"):
        selector = service["spec"]["selector"]
        [workload] = [w for w in workloads if selector.items() <= w["spec"]["template"]["metadata"]["labels"].items()]
        declared = {port["name"] for entry in pod_spec(workload)["containers"] for port in entry.get("ports", [])}
        assert {port["targetPort"] for port in service["spec"]["ports"]} <= declared, service["metadata"]["name"]


def test_each_service_monitor_scrapes_a_port_of_a_service_it_selects():
    services = kind("Service")
    for monitor in kind("ServiceMonitor"):
        assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
        labels = monitor["spec"]["selector"]["matchLabels"]
        [service] = [s for s in services if labels.items() <= s["metadata"]["labels"].items()]
        ports = {port["name"] for port in service["spec"]["ports"]}
        assert {endpoint["port"] for endpoint in monitor["spec"]["endpoints"]} <= ports


def test_the_api_monitor_presents_the_token_the_web_pods_require():
    [endpoint] = named("ServiceMonitor", "resee-web")["spec"]["endpoints"]
    assert resolve(endpoint["path"]).url_name == "prometheus-django-metrics"
    credentials = endpoint["authorization"]["credentials"]
    assert env_value(container("web"), "METRICS_TOKEN") == {"secretKeyRef": credentials}


def test_the_autoscaler_scales_the_web_deployment():
    target = named("HorizontalPodAutoscaler", "web")["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", "web")
    assert "resources" in container("web") and container("web")["resources"]["requests"]["cpu"]


# --- Environment and secrets -------------------------------------------------------------------


@pytest.mark.parametrize(("workload", "service"), [("web", "web"), ("worker", "worker")])
def test_a_pod_gets_what_its_compose_service_gets_and_nothing_the_app_does_not_read(workload, service):
    names = env_names(container(workload))
    assert set(COMPOSE[service]["environment"]) <= names
    assert names <= variables_the_app_reads()


def test_the_redis_databases_are_those_of_compose():
    web = container("web")
    for name, value in COMPOSE["web"]["environment"].items():
        if name.startswith("REDIS_DB_") or name == "REDIS_URL":
            assert str(env_value(web, name)) == str(value), name


@pytest.mark.parametrize("workload", ["web", "worker", "migrate"])
def test_secrets_and_credential_urls_come_only_from_the_secret(workload):
    entry = container(workload, "Job" if workload == "migrate" else "Deployment")
    for name in env_names(entry):
        if SECRET_NAME.search(name) or name in CREDENTIAL_URLS:
            assert "secretKeyRef" in env_value(entry, name), f"{workload}: {name} must come from resee-secrets"


def test_the_pods_run_as_the_images_unprivileged_user():
    for workload in (named("Deployment", "web"), named("Deployment", "worker"), named("Job", "migrate")):
        assert pod_spec(workload)["securityContext"]["runAsNonRoot"] is True


# --- Redis -------------------------------------------------------------------------------------


def test_redis_runs_on_the_repositorys_redis_conf():
    assert config_map("redis-config")["redis.conf"] == (ROOT / "redis.conf").read_text()
    redis = container("redis")
    [mount] = redis["volumeMounts"]
    assert redis["command"] == ["redis-server", f"{mount['mountPath']}/redis.conf"] == COMPOSE["redis"]["command"]


def test_the_metrics_directory_is_an_empty_in_memory_volume_of_each_web_pod():
    web = container("web")
    directory = env_value(web, "PROMETHEUS_MULTIPROC_DIR")
    [mount] = [m for m in web["volumeMounts"] if m["mountPath"] == directory]
    [volume] = [v for v in pod_spec(named("Deployment", "web"))["volumes"] if v["name"] == mount["name"]]
    assert volume["emptyDir"] == {"medium": "Memory"}
