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
