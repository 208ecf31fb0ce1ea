"""The architecture's rules, checked: who may import what, and who may read the truth."""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LIBRARIES = ("connectors", "sandbox", "warehouse", "ml", "agents")
PIPELINE_CODE = ("pipelines", "assets", "connectors", "warehouse", "ml", "agents", "serving_api")
# The sandbox schema's own DDL lives with the migrations; creating a schema is not reading it.
_TRUTH_READ = re.compile(r"\bsandbox\.[a-z_]+", re.IGNORECASE)


def _python_files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


# ARCHITECTURE.md's "may import" column, for our own packages (anything else is third party).
OUR_PACKAGES = frozenset(
    {"pipelines", "assets", "connectors", "sandbox", "warehouse", "ml", "agents", "serving_api"}
    | {"bizo", "bench", "tests", "deploy"}
)
MAY_IMPORT = {
    "assets": {"connectors", "warehouse", "ml", "agents"},
    "connectors": {"warehouse"},
    "sandbox": set(),
    "warehouse": set(),
    "ml": set(),
    "agents": {"warehouse"},
    "serving_api": {"warehouse", "ml"},
}


@pytest.mark.parametrize("package", sorted(MAY_IMPORT))
def test_each_folder_imports_only_what_the_architecture_allows(package):
    offenders = {
        (str(p.relative_to(ROOT)), imported)
        for p in _python_files(package)
        for imported in _imports(p) & OUR_PACKAGES - {package} - MAY_IMPORT[package]
    }
    assert offenders == set()


@pytest.mark.parametrize("package", LIBRARIES)
def test_libraries_know_nothing_of_dagster(package):
    offenders = [
        str(p.relative_to(ROOT))
        for p in _python_files(package)
        if {"dagster", "dagster_dbt"} & _imports(p)
    ]
    assert offenders == []


@pytest.mark.parametrize("package", PIPELINE_CODE)
def test_pipeline_code_never_imports_the_sandbox(package):
    offenders = [
        str(p.relative_to(ROOT)) for p in _python_files(package) if "sandbox" in _imports(p)
    ]
    assert offenders == []


def test_pipeline_code_and_dbt_never_read_the_sandbox_schema():
    files = [p for package in PIPELINE_CODE for p in _python_files(package)]
    files += sorted((ROOT / "dbt_project").glob("models/**/*.sql"))
    files += sorted((ROOT / "dbt_project").glob("models/**/*.yml"))
    offenders = [
        f"{p.relative_to(ROOT)}: {match}"
        for p in files
        for match in _TRUTH_READ.findall(p.read_text())
    ]
    assert offenders == []


def test_the_check_itself_would_catch_a_leak(tmp_path):
    leaky = tmp_path / "leak.py"
    leaky.write_text('import sandbox.world\nQUERY = "SELECT true_propensity FROM sandbox.leads"\n')
    assert "sandbox" in _imports(leaky)
    assert "sandbox.leads" in _TRUTH_READ.findall(leaky.read_text())
