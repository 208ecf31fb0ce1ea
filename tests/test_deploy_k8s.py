"""The cluster's files, validated offline: every manifest and the Helm-rendered code server
against the Kubernetes schemas (kubernetes-validate), and the references between them."""

import copy
import socket

import kubernetes_validate
import pytest

from pipelines.jobs import INGESTED_PLATFORMS
from tests.deploy_contract import (
    DEPLOY,
    K8S_DIR,
    api_paths,
    compose_left_at_defaults,
    compose_shared_env,
    exec_form,
    helm_values,
    image_name,
    instance_only_env,
    k8s_manifest_files,
    k8s_resource,
    k8s_resources,
    load_yaml,
    parse_dockerfile,
    render_user_deployment,
    repo_workspace_module,
    user_deployment_values,
    validate_k8s,
)

RESOURCES = k8s_resources()


@pytest.mark.parametrize(
    "resource",
    [doc for _, doc in RESOURCES],
    ids=[f"{path.name}:{doc['kind']}" for path, doc in RESOURCES],
)
def test_every_manifest_is_valid_kubernetes(resource):
    validate_k8s(resource)


def test_the_helm_rendered_code_server_is_valid_kubernetes():
    validate_k8s(render_user_deployment(helm_values()))


def test_the_validator_rejects_what_kubernetes_would(monkeypatch):
    """Not a rubber stamp: a wrong type and an unknown field both fail, and the schemas come
    from the package (any network use during validation fails this test)."""

    def no_network(*args, **kwargs):
        raise AssertionError("kubernetes-validate tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    deployment = copy.deepcopy(k8s_resource("Deployment", "bizo-api"))
    validate_k8s(deployment)
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["ports"][0]["containerPort"] = "eight thousand"
    with pytest.raises(kubernetes_validate.ValidationError):
        validate_k8s(deployment)
    container["ports"][0]["containerPort"] = 8000
    container["livenessprobe"] = container.pop("livenessProbe")  # a typo Kubernetes ignores
    with pytest.raises(kubernetes_validate.ValidationError):
        validate_k8s(deployment)


def test_kustomization_applies_every_manifest_but_the_secret_example():
    kustomization = load_yaml(K8S_DIR / "kustomization.yaml")
    listed = set(kustomization["resources"])
    files = {path.name for path in k8s_manifest_files()}
    assert listed == files - {"secret.example.yaml"}


# -- one environment, everywhere ------------------------------------------------------------
def test_the_cluster_gets_the_same_variables_as_compose():
    config = k8s_resource("ConfigMap", "bizo-config")["data"]
    secret = k8s_resource("Secret", "bizo-secrets")["stringData"]
    assert not set(config) & set(secret)
    expected = set(compose_shared_env()) - instance_only_env()
    assert set(config) | set(secret) == expected
    assert not (set(config) | set(secret)) & set(compose_left_at_defaults())


def test_secrets_stay_out_of_the_config_map():
    config = k8s_resource("ConfigMap", "bizo-config")["data"]
    required_secrets = {
        name for name, value in compose_shared_env().items() if "${" in str(value)
    } - instance_only_env()
    assert required_secrets
    assert not required_secrets & set(config)


def test_the_api_code_server_and_run_pods_read_the_same_config_and_secret():
    deployment = k8s_resource("Deployment", "bizo-api")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    api_sources = {
        ("configMap", ref["configMapRef"]["name"])
        if "configMapRef" in ref
        else ("secret", ref["secretRef"]["name"])
        for ref in container["envFrom"]
    }
    assert api_sources == {("configMap", "bizo-config"), ("secret", "bizo-secrets")}
    launcher = helm_values()["runLauncher"]["config"]["k8sRunLauncher"]
    for holder in (user_deployment_values(), launcher):
        assert {("configMap", cm["name"]) for cm in holder["envConfigMaps"]} | {
            ("secret", s["name"]) for s in holder["envSecrets"]
        } == api_sources


# -- the API's objects reference each other correctly ---------------------------------------
def test_api_probes_hit_the_apis_health_and_readiness_routes():
    deployment = k8s_resource("Deployment", "bizo-api")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    port_names = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        get = container[probe]["httpGet"]
        assert get["path"] in api_paths()
        assert get["port"] in port_names
    api_cmd = exec_form(parse_dockerfile()["api"].all("CMD")[-1])
    assert container["command"] == api_cmd
    assert str(port_names["http"]) == api_cmd[api_cmd.index("--port") + 1]


def test_api_runs_unprivileged_with_cpu_requests_for_the_autoscaler():
    deployment = k8s_resource("Deployment", "bizo-api")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["resources"]["requests"]["cpu"]
    hpa = k8s_resource("HorizontalPodAutoscaler", "bizo-api")
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    assert 1 < hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]


def test_service_ingress_and_disruption_budget_find_the_api_pods():
    deployment = k8s_resource("Deployment", "bizo-api")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    service = k8s_resource("Service", "bizo-api")
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= {
        p["name"] for p in container["ports"]
    }
    pdb = k8s_resource("PodDisruptionBudget", "bizo-api")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    ingress = k8s_resource("Ingress", "bizo-api")
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            backend = path["backend"]["service"]
            assert backend["name"] == service["metadata"]["name"]
            assert backend["port"]["name"] in {p["name"] for p in service["spec"]["ports"]}
    assert ingress["spec"]["tls"]


# -- Helm values ----------------------------------------------------------------------------
def test_the_code_location_in_the_chart_is_the_laptops():
    args = user_deployment_values()["dagsterApiGrpcArgs"]
    module, attribute = repo_workspace_module()
    assert args == ["--module-name", module, "--attribute", attribute]


def test_dagster_services_run_our_images():
    values = helm_values()
    code_image = user_deployment_values()["image"]
    assert code_image["repository"].endswith("/code-server")
    assert code_image["tag"]
    for component in ("dagsterWebserver", "dagsterDaemon"):
        assert values[component]["image"]["repository"].endswith("/dagster")


def test_dagster_storage_is_the_external_postgres_with_the_psycopg2_driver():
    values = helm_values()
    postgres = values["postgresql"]
    assert postgres["enabled"] is False
    assert values["generatePostgresqlPasswordSecret"] is False
    assert postgres["postgresqlScheme"] == "postgresql+psycopg2"
    config = k8s_resource("ConfigMap", "bizo-config")["data"]
    assert postgres["postgresqlDatabase"] == config["BIZO_DAGSTER_DATABASE"]


def test_the_run_queue_limits_every_platform_as_the_laptop_does():
    laptop = load_yaml(DEPLOY / "dagster.yaml")["run_coordinator"]["config"]
    daemon = helm_values()["dagsterDaemon"]
    assert daemon["runCoordinator"]["type"] == "QueuedRunCoordinator"
    cluster = daemon["runCoordinator"]["config"]["queuedRunCoordinator"]
    assert cluster["maxConcurrentRuns"] == laptop["max_concurrent_runs"]
    assert cluster["tagConcurrencyLimits"] == laptop["tag_concurrency_limits"]
    limited = {
        limit["value"] for limit in cluster["tagConcurrencyLimits"] if limit["key"] == "platform"
    }
    assert set(INGESTED_PLATFORMS) <= limited
    assert daemon["runRetries"]["enabled"] is True
    assert daemon["runRetries"]["maxRetries"] >= 1


def test_the_landing_folder_is_one_shared_volume_where_the_code_expects_it():
    config = k8s_resource("ConfigMap", "bizo-config")["data"]
    claim = k8s_resource("PersistentVolumeClaim", "bizo-landing")
    assert "ReadWriteMany" in claim["spec"]["accessModes"]
    launcher = helm_values()["runLauncher"]["config"]["k8sRunLauncher"]
    for holder in (user_deployment_values(), launcher):
        (volume,) = holder["volumes"]
        assert volume["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
        (mount,) = holder["volumeMounts"]
        assert mount["name"] == volume["name"]
        assert mount["mountPath"] == config["BIZO_LANDING_DIR"]


def test_the_chart_code_server_runs_the_image_we_build():
    container = render_user_deployment(helm_values())["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == image_name(user_deployment_values()["image"])
    code_server_cmd = exec_form(parse_dockerfile()["code-server"].all("CMD")[-1])
    # the chart replaces the image's CMD; both start the same gRPC server on the same module
    assert container["args"][:3] == code_server_cmd[:3] == ["dagster", "api", "grpc"]
