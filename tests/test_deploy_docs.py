"""The deployment docs name commands and versions that exist."""

import re
import tomllib

import typer.main

from bizo.cli import app
from tests.deploy_contract import ROOT

DOCS = ("deploy.md", "operations.md", "sizing.md")
# Documented ahead of their arrival, and marked so in operations.md.
ANNOUNCED = {"recommendations"}
# `bizo X` where a command starts: a code span, a shell substitution, a line, `python -m`.
BIZO_COMMAND = r"(?:`|\$\(|^\s*|-m )bizo(?:\.cli)? ([a-z][a-z-]+)"


def _doc(name: str) -> str:
    return (ROOT / "docs" / name).read_text()


def _cli_commands() -> set[str]:
    group = typer.main.get_command(app)
    return set(group.commands)


def test_every_bizo_command_the_docs_use_exists():
    used = set()
    for name in DOCS:
        used |= set(re.findall(BIZO_COMMAND, _doc(name), re.MULTILINE))
    known = _cli_commands()
    assert {"connect", "token", "webhook-secret", "secret-key"} <= used
    assert sorted(used - known - ANNOUNCED) == []


def test_recommendation_commands_are_documented_as_specified():
    operations = _doc("operations.md")
    for verb in ("approve", "reject", "rollback"):
        assert f"bizo recommendations {verb} ID" in operations
        assert f"POST /v1/recommendations/{{id}}/{verb}" in operations


def test_the_helm_chart_version_is_our_dagster_pin():
    pins = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    (dagster_pin,) = [pin for pin in pins if pin.startswith("dagster==")]
    version = dagster_pin.split("==")[1]
    assert f"--version {version}" in _doc("deploy.md")
    assert f"--version {version}" in (ROOT / "deploy" / "helm" / "dagster-values.yaml").read_text()


def test_sizing_marks_what_is_not_measured():
    sizing = _doc("sizing.md")
    for profile in ("small", "medium", "large"):
        assert profile in sizing
    assert "not yet measured" in sizing
