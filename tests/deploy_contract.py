"""What the deployment files promise, read from the files and from the code itself (no lists
kept by hand), for the tests in tests/test_deploy_*.py."""

from __future__ import annotations

import ast
import importlib
import json
import re
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import AliasChoices
from pydantic_settings import BaseSettings

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
K8S_DIR = DEPLOY / "k8s"
KUBERNETES_VERSION = "1.33"  # the oldest minor a managed cluster still offers us

# Not in compose's shared env on purpose: where the laptop instance config lives (the chart
# mounts its own dagster.yaml and sets DAGSTER_HOME itself).
DAGSTER_HOME = "DAGSTER_HOME"


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def load_yaml_documents(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


# -- which packages ship, and what they read from the environment ---------------------------
@cache
def shipped_packages() -> tuple[str, ...]:
    """The packages pyproject installs (the images copy the same)."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    return tuple(sorted(pattern.rstrip("*") for pattern in patterns))


def _python_files() -> list[Path]:
    return [
        path for package in shipped_packages() for path in sorted((ROOT / package).rglob("*.py"))
    ]


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def settings_env_names(settings_class: type[BaseSettings]) -> set[str]:
    """The environment variables a pydantic-settings class reads, as pydantic-settings names
    them: the field's alias (or alias choices) when it has one, else prefix + field name."""
    prefix = settings_class.model_config.get("env_prefix", "")
    names = set()
    for name, info in settings_class.model_fields.items():
        alias = info.validation_alias or info.alias
        if isinstance(alias, str):
            names.add(alias.upper())
        elif isinstance(alias, AliasChoices):
            names.update(choice.upper() for choice in alias.choices if isinstance(choice, str))
        else:
            names.add(f"{prefix}{name}".upper())
    return names


@cache
def settings_classes() -> tuple[type[BaseSettings], ...]:
    """Every settings class defined in the shipped packages."""
    found = []
    for path in _python_files():
        text = path.read_text()
        if "BaseSettings" not in text and "SettingsConfigDict" not in text:
            continue
        module = importlib.import_module(_module_name(path))
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, BaseSettings)
                and value is not BaseSettings
                and value.__module__ == module.__name__
            ):
                found.append(value)
    return tuple(found)


def _string_constants(tree: ast.Module) -> dict[str, str]:
    constants = {}
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    constants[target.id] = node.value.value
    return constants


def _is_os_environ(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "environ"
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
    )


def environ_reads(source: str) -> set[str]:
    """Names read through os.environ.get / os.getenv / os.environ[...] (not writes)."""
    tree = ast.parse(source)
    constants = _string_constants(tree)

    def name_of(node: ast.AST) -> str | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.Name):
            return constants.get(node.id)
        return None

    names = set()
    for node in ast.walk(tree):
        key = None
        if isinstance(node, ast.Call) and node.args:
            function = node.func
            if (
                isinstance(function, ast.Attribute)
                and function.attr == "get"
                and _is_os_environ(function.value)
            ) or (
                isinstance(function, ast.Attribute)
                and function.attr == "getenv"
                and isinstance(function.value, ast.Name)
                and function.value.id == "os"
            ):
                key = name_of(node.args[0])
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.ctx, ast.Load)
            and _is_os_environ(node.value)
        ):
            key = name_of(node.slice)
        if key:
            names.add(key)
    return names


def instance_config_env_names(instance_yaml: Path = DEPLOY / "dagster.yaml") -> set[str]:
    """Variables a Dagster instance file reads through `env:` references."""
    names = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if set(node) == {"env"} and isinstance(node["env"], str):
                names.add(node["env"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(load_yaml(instance_yaml))
    return names


@cache
def code_env_vars() -> frozenset[str]:
    """Every variable the deployed code reads: settings classes, direct os.environ reads, and
    the laptop Dagster instance config (plus DAGSTER_HOME, which points at it)."""
    names = set()
    for settings_class in settings_classes():
        names |= settings_env_names(settings_class)
    for path in _python_files():
        names |= environ_reads(path.read_text())
    names |= instance_config_env_names()
    names.add(DAGSTER_HOME)
    return frozenset(names)


def dbt_profile_env_vars() -> set[str]:
    text = (ROOT / "dbt_project" / "profiles.yml").read_text()
    return set(re.findall(r"env_var\(\s*['\"]([A-Z0-9_]+)['\"]", text))


def api_paths() -> set[str]:
    """The paths the API serves, from its own OpenAPI document."""
    from serving_api.app import create_app

    return set(create_app().openapi()["paths"])


# -- compose --------------------------------------------------------------------------------
@cache
def compose() -> dict[str, Any]:
    return load_yaml(DEPLOY / "docker-compose.yaml")


def compose_shared_env() -> dict[str, str]:
    return compose()["x-bizo-environment"]


def compose_left_at_defaults() -> dict[str, str]:
    return compose()["x-bizo-left-at-defaults"]


def instance_only_env() -> set[str]:
    """Compose variables that configure the laptop Dagster instance, not the code."""
    return instance_config_env_names() | {DAGSTER_HOME}


# -- Dockerfile -----------------------------------------------------------------------------
@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def parse_dockerfile(path: Path = DEPLOY / "Dockerfile") -> dict[str, Stage]:
    """Stages by name, each with its instructions (continuations joined, comments dropped)."""
    logical, current = [], ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        logical.append(current + line)
        current = ""
    stages: dict[str, Stage] = {}
    stage = None
    for instruction in logical:
        keyword, _, args = instruction.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            match = re.fullmatch(r"(\S+)(?:\s+AS\s+(\S+))?", args.strip(), re.IGNORECASE)
            assert match, f"cannot read FROM {args}"
            base, name = match.group(1), match.group(2) or f"stage-{len(stages)}"
            stage = stages[name] = Stage(name, base)
        elif stage is not None:
            stage.instructions.append((keyword, args.strip()))
    return stages


def stage_chain(stages: dict[str, Stage], name: str) -> list[Stage]:
    """A stage and the stages it is built FROM, nearest first."""
    chain = []
    while name in stages:
        chain.append(stages[name])
        name = stages[name].base
    return chain


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list), f"not exec form: {args}"
    return value


# -- Kubernetes and Helm --------------------------------------------------------------------
def k8s_manifest_files() -> list[Path]:
    return sorted(p for p in K8S_DIR.glob("*.yaml") if p.name != "kustomization.yaml")


def k8s_resources() -> list[tuple[Path, dict]]:
    return [(path, doc) for path in k8s_manifest_files() for doc in load_yaml_documents(path)]


def k8s_resource(kind: str, name: str) -> dict:
    matches = [
        doc for _, doc in k8s_resources() if doc["kind"] == kind and doc["metadata"]["name"] == name
    ]
    assert len(matches) == 1, f"{kind}/{name}: {len(matches)} found"
    return matches[0]


@cache
def helm_values() -> dict[str, Any]:
    return load_yaml(DEPLOY / "helm" / "dagster-values.yaml")


def repo_workspace_module() -> tuple[str, str]:
    """The code location the laptop loads (workspace.yaml): module and attribute."""
    workspace = load_yaml(ROOT / "workspace.yaml")
    (entry,) = workspace["load_from"]
    module = entry["python_module"]
    return module["module_name"], module["attribute"]


def validate_k8s(resource: dict) -> None:
    """Validate one resource against the Kubernetes schemas kubernetes-validate bundles
    (strict: unknown fields fail too); raises on any violation."""
    import kubernetes_validate

    kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)


# -- the chart's rendering, for the parts we configure -----------------------------------------
# Offline there is no `helm template`; these mirror the official chart's templates
# (configmap-instance.yaml and its instance helpers, deployment-user.yaml) for the values we set.
def render_instance_yaml(values: dict[str, Any], namespace: str) -> dict[str, Any]:
    """The dagster.yaml the chart's instance ConfigMap would hold for these values."""
    pg = values["postgresql"]
    pg_secret_user = values.get("global", {}).get("postgresqlSecretUsernameKey")
    postgres_db = {
        "username": {"env": "DAGSTER_PG_USERNAME"} if pg_secret_user else pg["postgresqlUsername"],
        "password": {"env": "DAGSTER_PG_PASSWORD"},
        "hostname": pg["postgresqlHost"],
        "db_name": pg["postgresqlDatabase"],
        "port": pg["service"]["port"],
        "params": pg.get("postgresqlParams", {}),
    }
    if pg.get("postgresqlScheme"):
        postgres_db["scheme"] = pg["postgresqlScheme"]

    def storage(module: str, cls: str) -> dict:
        return {"module": module, "class": cls, "config": {"postgres_db": postgres_db}}

    k8s = values["runLauncher"]["config"]["k8sRunLauncher"]
    launcher: dict[str, Any] = {
        "load_incluster_config": k8s["loadInclusterConfig"],
        "job_namespace": k8s.get("jobNamespace") or namespace,
        "image_pull_policy": k8s["imagePullPolicy"],
        "service_account_name": "dagster",
        "dagster_home": {"env": "DAGSTER_HOME"},
        "instance_config_map": {"env": "DAGSTER_K8S_INSTANCE_CONFIG_MAP"},
        "postgres_password_secret": {"env": "DAGSTER_K8S_PG_PASSWORD_SECRET"},
        "env_config_maps": [{"env": "DAGSTER_K8S_PIPELINE_RUN_ENV_CONFIGMAP"}]
        + [cm["name"] for cm in k8s.get("envConfigMaps", []) if "name" in cm],
    }
    if k8s.get("kubeconfigFile"):
        launcher["kubeconfig_file"] = k8s["kubeconfigFile"]
    if k8s.get("envSecrets"):
        launcher["env_secrets"] = [s["name"] for s in k8s["envSecrets"] if "name" in s]
    for key, config_key in (
        ("envVars", "env_vars"),
        ("volumeMounts", "volume_mounts"),
        ("volumes", "volumes"),
        ("labels", "labels"),
        ("resources", "resources"),
        ("securityContext", "security_context"),
    ):
        if k8s.get(key):
            launcher[config_key] = k8s[key]
    if k8s.get("failPodOnRunFailure"):
        launcher["fail_pod_on_run_failure"] = True
    if k8s.get("runK8sConfig"):
        run_k8s = k8s["runK8sConfig"]
        launcher["run_k8s_config"] = {
            config_key: run_k8s[key]
            for key, config_key in (
                ("containerConfig", "container_config"),
                ("podSpecConfig", "pod_spec_config"),
                ("podTemplateSpecMetadata", "pod_template_spec_metadata"),
                ("jobSpecConfig", "job_spec_config"),
                ("jobMetadata", "job_metadata"),
            )
            if run_k8s.get(key)
        }

    daemon = values["dagsterDaemon"]
    queued = daemon["runCoordinator"]["config"]["queuedRunCoordinator"]
    instance: dict[str, Any] = {
        "scheduler": {"module": "dagster.core.scheduler", "class": "DagsterDaemonScheduler"},
        "schedule_storage": storage("dagster_postgres.schedule_storage", "PostgresScheduleStorage"),
        "run_storage": storage("dagster_postgres.run_storage", "PostgresRunStorage"),
        "event_log_storage": storage("dagster_postgres.event_log", "PostgresEventLogStorage"),
        "run_launcher": {"module": "dagster_k8s", "class": "K8sRunLauncher", "config": launcher},
        "run_coordinator": {
            "module": "dagster.core.run_coordinator",
            "class": "QueuedRunCoordinator",
            "config": {
                "max_concurrent_runs": queued["maxConcurrentRuns"],
                "tag_concurrency_limits": queued["tagConcurrencyLimits"],
            },
        },
        "telemetry": {"enabled": values["telemetry"]["enabled"]},
    }
    if daemon["runMonitoring"]["enabled"]:
        instance["run_monitoring"] = {
            "enabled": True,
            "start_timeout_seconds": daemon["runMonitoring"]["startTimeoutSeconds"],
            "poll_interval_seconds": daemon["runMonitoring"]["pollIntervalSeconds"],
        }
    if daemon["runRetries"]["enabled"]:
        instance["run_retries"] = {
            "enabled": True,
            "max_retries": daemon["runRetries"]["maxRetries"],
        }
    return instance


def user_deployment_values() -> dict[str, Any]:
    (deployment,) = helm_values()["dagster-user-deployments"]["deployments"]
    return deployment


def image_name(image: dict[str, Any]) -> str:
    return f"{image['repository']}:{image['tag']}"


def code_location_container_context(
    values: dict[str, Any], namespace: str, release: str = "dagster"
) -> dict[str, Any] | None:
    """What the chart hands the code server to pass on to launched runs
    (`includeConfigInLaunchedRuns`), or None when that is off."""
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    if not deployment.get("includeConfigInLaunchedRuns", {"enabled": True})["enabled"]:
        return None
    k8s: dict[str, Any] = {
        "image_pull_policy": deployment["image"]["pullPolicy"],
        "env_config_maps": [f"{release}-{deployment['name']}-user-env"]
        + [cm["name"] for cm in deployment.get("envConfigMaps", []) if "name" in cm],
        "namespace": namespace,
        "service_account_name": f"{release}-user-deployments",
    }
    for key, config_key in (
        ("envSecrets", "env_secrets"),
        ("volumeMounts", "volume_mounts"),
        ("volumes", "volumes"),
        ("labels", "labels"),
        ("resources", "resources"),
    ):
        if deployment.get(key):
            value = deployment[key]
            k8s[config_key] = [s["name"] for s in value] if key == "envSecrets" else value
    return {"k8s": k8s}


def render_user_deployment(values: dict[str, Any], release: str = "dagster") -> dict[str, Any]:
    """The code-server Deployment the chart's user-deployments subchart renders."""
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    image = image_name(deployment["image"])
    port = deployment["port"]
    labels = {
        "app.kubernetes.io/name": "dagster",
        "app.kubernetes.io/instance": release,
        "component": "user-deployments",
        "deployment": deployment["name"],
    }
    health = ["dagster", "api", "grpc-health-check", "-p", str(port)]
    passed_on = code_location_container_context(values, namespace="bizo", release=release)
    context_env = (
        [{"name": "DAGSTER_CLI_API_GRPC_CONTAINER_CONTEXT", "value": json.dumps(passed_on)}]
        if passed_on
        else []
    )
    container = {
        "name": "dagster-user-deployments",
        "image": image,
        "imagePullPolicy": deployment["image"]["pullPolicy"],
        "args": ["dagster", "api", "grpc", "-h", "0.0.0.0", "-p", str(port)]
        + deployment["dagsterApiGrpcArgs"],
        "env": [
            {"name": "DAGSTER_CURRENT_IMAGE", "value": image},
            {
                "name": "DAGSTER_PG_PASSWORD",
                "valueFrom": {
                    "secretKeyRef": {
                        "name": values["global"]["postgresqlSecretName"],
                        "key": "postgresql-password",
                    }
                },
            },
            *context_env,
        ],
        "envFrom": [
            {"configMapRef": {"name": f"{release}-user-deployments-shared-env"}},
            {"configMapRef": {"name": f"{release}-{deployment['name']}-user-env"}},
            *({"configMapRef": cm} for cm in deployment.get("envConfigMaps", [])),
            *({"secretRef": s} for s in deployment.get("envSecrets", [])),
        ],
        "resources": deployment.get("resources", {}),
        "readinessProbe": {
            "exec": {"command": health},
            "periodSeconds": 20,
            "timeoutSeconds": 10,
            "successThreshold": 1,
            "failureThreshold": 15,
        },
        "volumeMounts": deployment.get("volumeMounts", []),
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": f"{release}-dagster-user-deployments-{deployment['name']}"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "serviceAccountName": f"{release}-dagster-user-deployments-user-deployments",
                    "automountServiceAccountToken": True,
                    "securityContext": deployment.get("podSecurityContext", {}),
                    "containers": [container],
                    "nodeSelector": deployment.get("nodeSelector", {}),
                    "tolerations": deployment.get("tolerations", []),
                    "volumes": deployment.get("volumes", []),
                },
            },
        },
    }
