"""The cluster's Dagster, checked with dagster-k8s itself: the instance the Helm values render
loads (K8sRunLauncher, queued coordinator, run retries, Postgres storage), and the Kubernetes
Jobs it would create for runs and for GPU steps carry our image, config and GPU request."""

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster_k8s import DagsterK8sJobConfig, K8sRunLauncher, construct_dagster_k8s_job
from dagster_k8s.container_context import K8sContainerContext
from dagster_k8s.job import get_user_defined_k8s_config
from kubernetes.client import ApiClient

from assets.gpu import GPU_NODE_POOL, GPU_RESOURCE, gpu_op_tags
from pipelines.definitions import defs
from pipelines.execution import ExecutionSettings, run_executor
from pipelines.jobs import ingestion_jobs
from tests.deploy_contract import (
    ROOT,
    code_location_container_context,
    helm_values,
    image_name,
    k8s_resource,
    render_instance_yaml,
    user_deployment_values,
    validate_k8s,
)
from warehouse.server import server_address
from warehouse.settings import get_settings

NAMESPACE = "bizo"
CODE_IMAGE = image_name(user_deployment_values()["image"])
K8S_CONFIG_TAG = "dagster-k8s/config"

# A cluster we never call: the launcher only reads it to build clients.
FAKE_KUBECONFIG = {
    "apiVersion": "v1",
    "kind": "Config",
    "clusters": [{"name": "offline", "cluster": {"server": "https://127.0.0.1:1"}}],
    "users": [{"name": "offline", "user": {"token": "offline"}}],
    "contexts": [{"name": "offline", "context": {"cluster": "offline", "user": "offline"}}],
    "current-context": "offline",
}


def _values_for_this_machine(tmp_path: Path, dagster_storage_url: str) -> dict:
    """Our Helm values with only what a test cluster's `-f overrides.yaml` would change:
    where Dagster's Postgres is (the embedded test server) and how to reach Kubernetes."""
    values = yaml.safe_load(yaml.safe_dump(helm_values()))
    address = server_address(get_settings())
    assert get_settings().dagster_database in dagster_storage_url  # created by the fixture
    values["postgresql"].update(
        postgresqlHost="localhost",
        postgresqlUsername=address.user,
        postgresqlDatabase=get_settings().dagster_database,
        # the embedded server listens on a socket directory, which libpq takes as `host`
        postgresqlParams={"host": address.host},
        service={"port": address.port},
    )
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(FAKE_KUBECONFIG))
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    launcher.update(loadInclusterConfig=False, kubeconfigFile=str(kubeconfig))
    return values


@pytest.fixture(scope="module")
def cluster_instance(
    tmp_path_factory: pytest.TempPathFactory, dagster_storage_url: str
) -> Iterator[dg.DagsterInstance]:
    home = tmp_path_factory.mktemp("dagster_home")
    values = _values_for_this_machine(home, dagster_storage_url)
    (home / "dagster.yaml").write_text(yaml.safe_dump(render_instance_yaml(values, NAMESPACE)))
    # What the chart sets on every Dagster container.
    chart_env = {
        "DAGSTER_PG_PASSWORD": server_address(get_settings()).password or "unused",
        "DAGSTER_HOME": "/opt/dagster/dagster_home",
        "DAGSTER_K8S_INSTANCE_CONFIG_MAP": "dagster-instance",
        "DAGSTER_K8S_PG_PASSWORD_SECRET": "dagster-postgresql-secret",
        "DAGSTER_K8S_PIPELINE_RUN_ENV_CONFIGMAP": "dagster-pipeline-env",
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in chart_env.items():
            patch.setenv(name, value)
        instance = dg.DagsterInstance.from_config(str(home))
        try:
            yield instance
        finally:
            instance.dispose()


def _job_dict(job) -> dict:
    return ApiClient().sanitize_for_serialization(job)


def _run_context(
    launcher: K8sRunLauncher, run_tags: dict, include_run_tags: bool
) -> K8sContainerContext:
    """The container context dagster-k8s builds for a run of our code location: the run
    launcher's config, then what the code server passes on (if the chart is told to), then
    the run's own dagster-k8s/config tags."""
    run = dg.DagsterRun(job_name="check", tags=run_tags)
    context = K8sContainerContext.create_for_run(run, launcher, include_run_tags=False)
    passed_on = code_location_container_context(helm_values(), NAMESPACE)
    if passed_on:
        context = context.merge(K8sContainerContext.create_from_config(passed_on))
    if include_run_tags:
        context = context.merge(
            K8sContainerContext(run_k8s_config=get_user_defined_k8s_config(run_tags))
        )
    return context


def _step_job(instance: dg.DagsterInstance, op_tags: dict, step: str) -> dict:
    """The Job the k8s_job_executor creates for a step with these op tags (the same merge it
    does: the run's context without run tags, then the step's own dagster-k8s/config)."""
    launcher = instance.run_launcher
    context = _run_context(launcher, {}, include_run_tags=False)
    context = context.merge(
        K8sContainerContext(run_k8s_config=get_user_defined_k8s_config(op_tags))
    )
    job_config: DagsterK8sJobConfig = context.get_k8s_job_config(CODE_IMAGE, launcher)
    job = construct_dagster_k8s_job(
        job_config=job_config,
        args=["dagster", "api", "execute_step"],
        job_name=f"dagster-step-{step}",
        pod_name=f"dagster-step-{step}",
        component="step_worker",
        user_defined_k8s_config=context.run_k8s_config,
    )
    return _job_dict(job)


def _run_job(instance: dg.DagsterInstance, run_tags: dict) -> dict:
    launcher = instance.run_launcher
    context = _run_context(launcher, run_tags, include_run_tags=True)
    job = construct_dagster_k8s_job(
        job_config=context.get_k8s_job_config(CODE_IMAGE, launcher),
        args=["dagster", "api", "execute_run"],
        job_name="dagster-run-check",
        pod_name="dagster-run-check",
        component="run_worker",
        user_defined_k8s_config=context.run_k8s_config,
    )
    return _job_dict(job)


def _pod(job: dict) -> dict:
    return job["spec"]["template"]["spec"]


def _env_sources(container: dict) -> set[tuple[str, str]]:
    return {
        ("configMap", ref["configMapRef"]["name"])
        if "configMapRef" in ref
        else ("secret", ref["secretRef"]["name"])
        for ref in container.get("envFrom", [])
    }


def _stored_op_tags(op_tags: dict) -> dict:
    """Op tags as Dagster keeps them (structured values JSON-encoded), via a real asset."""

    @dg.asset(op_tags=op_tags)
    def gpu_probe() -> None: ...

    return dict(gpu_probe.op.tags)


def _asks_for_gpu(tags: dict) -> bool:
    return GPU_RESOURCE in json.dumps(tags.get(K8S_CONFIG_TAG, ""))


def _gpu_tagged_work() -> dict[str, tuple[str, dict]]:
    """Everything in the code location whose dagster-k8s/config asks for a GPU: assets (their
    op tags shape step pods) and jobs (their tags shape run pods); plus one probe asset tagged
    with our helper, so the check never runs on nothing."""

    found = {"asset:gpu_probe": ("step", _stored_op_tags(gpu_op_tags(gpus=1)))}
    for spec in defs.resolve_all_asset_specs():
        node = defs.resolve_assets_def(spec.key)
        if node.is_executable and _asks_for_gpu(dict(node.op.tags)):
            found[f"asset:{spec.key.to_user_string()}"] = ("step", dict(node.op.tags))
    for job in defs.resolve_all_job_defs():
        if _asks_for_gpu(dict(job.tags)):
            found[f"job:{job.name}"] = ("run", dict(job.tags))
    return found


GPU_WORK = _gpu_tagged_work()


# -- the instance ---------------------------------------------------------------------------
def test_the_rendered_instance_loads_with_the_k8s_launcher_and_queued_coordinator(
    cluster_instance,
):
    launcher = cluster_instance.run_launcher
    assert isinstance(launcher, K8sRunLauncher)
    assert launcher.job_namespace == NAMESPACE
    assert set(launcher.env_config_maps) >= {"dagster-pipeline-env", "bizo-config"}
    assert launcher.env_secrets == ["bizo-secrets"]
    coordinator = cluster_instance.run_coordinator
    assert isinstance(coordinator, dg.QueuedRunCoordinator)
    queue = coordinator.get_run_queue_config()
    assert queue.max_concurrent_runs == 4
    limits = {(limit["value"], limit["limit"]) for limit in queue.tag_concurrency_limits}
    assert {("google_ads", 2), ("meta", 2), ("linkedin", 1), ("crm", 2)} <= limits
    assert cluster_instance.run_retries_enabled
    assert cluster_instance.run_retries_max_retries == 2


def test_the_rendered_instance_stores_runs_in_postgres(cluster_instance):
    """Storage really opens on the external Postgres the values name (via psycopg2): a run
    executed against it is recorded with its events."""

    @dg.op
    def answer() -> int:
        return 42

    @dg.job
    def storage_check():
        answer()

    result = storage_check.execute_in_process(instance=cluster_instance)
    assert result.success
    stored = cluster_instance.get_run_by_id(result.run_id)
    assert stored is not None and stored.is_success
    assert cluster_instance.all_logs(result.run_id)
    cluster_instance.delete_run(result.run_id)


# -- run and step pods ----------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(GPU_WORK))
def test_gpu_work_requests_gpus_in_our_image_with_our_config(cluster_instance, name):
    kind, tags = GPU_WORK[name]
    slug = name.split(":", 1)[1].replace("/", "-").replace("_", "-")
    job = (
        _step_job(cluster_instance, tags, slug)
        if kind == "step"
        else _run_job(cluster_instance, tags)
    )
    validate_k8s(job)
    pod = _pod(job)
    (container,) = pod["containers"]
    assert container["image"] == CODE_IMAGE
    assert int(container["resources"]["limits"][GPU_RESOURCE]) >= 1
    assert _env_sources(container) >= {("configMap", "bizo-config"), ("secret", "bizo-secrets")}
    landing = k8s_resource("ConfigMap", "bizo-config")["data"]["BIZO_LANDING_DIR"]
    assert landing in {mount["mountPath"] for mount in container["volumeMounts"]}
    tolerated = {t.get("key") for t in pod.get("tolerations", [])}
    assert (
        GPU_RESOURCE in tolerated or pod.get("nodeSelector", {}).get("bizo.io/node-pool") == "gpu"
    ), "a GPU asset must land on the GPU node pool"


def test_our_gpu_tags_replace_the_general_pool_with_the_gpu_pool(cluster_instance):
    tags = _stored_op_tags(gpu_op_tags(gpus=2, memory="24Gi"))
    pod = _pod(_step_job(cluster_instance, tags, "probe"))
    assert pod["nodeSelector"] == GPU_NODE_POOL
    (container,) = pod["containers"]
    assert container["resources"]["limits"][GPU_RESOURCE] == "2"
    assert container["resources"]["requests"]["memory"] == "24Gi"
    with pytest.raises(ValueError, match="at least one GPU"):
        gpu_op_tags(gpus=0)


@pytest.mark.parametrize("platform", sorted(ingestion_jobs))
def test_ingestion_run_pods_stay_on_the_general_pool_without_gpus(cluster_instance, platform):
    job_def = ingestion_jobs[platform]
    job = _run_job(cluster_instance, dict(job_def.tags))
    validate_k8s(job)
    pod = _pod(job)
    (container,) = pod["containers"]
    assert container["image"] == CODE_IMAGE
    assert GPU_RESOURCE not in json.dumps(container.get("resources", {}))
    run_k8s = helm_values()["runLauncher"]["config"]["k8sRunLauncher"]["runK8sConfig"]
    assert pod["nodeSelector"] == run_k8s["podSpecConfig"]["nodeSelector"]
    assert container["resources"] == run_k8s["containerConfig"]["resources"]
    assert job["spec"]["ttlSecondsAfterFinished"] == 86400
    assert _env_sources(container) >= {("configMap", "bizo-config"), ("secret", "bizo-secrets")}


# -- the executor the code location picks -----------------------------------------------------
def test_the_cluster_setting_picks_the_k8s_job_executor():
    executor = run_executor(ExecutionSettings(executor="k8s", max_concurrent_steps=3))
    assert executor is not None and executor.name == "k8s_job_executor"
    assert run_executor(ExecutionSettings()) is None  # Dagster's default on laptops
    with pytest.raises(ValueError):
        ExecutionSettings(executor="celery")


def test_definitions_load_with_the_k8s_executor_from_the_environment():
    """What the code server does in the cluster: BIZO_DAGSTER_EXECUTOR=k8s (bizo-config)."""
    config = k8s_resource("ConfigMap", "bizo-config")["data"]
    env = {**os.environ, "BIZO_DAGSTER_EXECUTOR": config["BIZO_DAGSTER_EXECUTOR"]}
    env["PYTHONPATH"] = str(ROOT)
    script = (
        "from pipelines.definitions import defs\n"
        "print(sorted({defs.resolve_job_def(j.name).executor_def.name "
        "for j in defs.resolve_all_job_defs()}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "['k8s_job_executor']"
