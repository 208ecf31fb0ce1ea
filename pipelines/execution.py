"""How a run executes its steps: in subprocesses on a laptop or in compose, one Kubernetes Job
per step in the cluster (large backfills fan out; GPU assets land on GPU nodes by their tags)."""

from typing import Literal

import dagster as dg
from dagster_k8s import k8s_job_executor
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ExecutionSettings(BaseSettings):
    """Read once, when the code location loads."""

    model_config = SettingsConfigDict(env_prefix="BIZO_DAGSTER_", extra="ignore", frozen=True)

    executor: Literal["multiprocess", "k8s"] = "multiprocess"
    # Step pods one run may have at once (the run queue limits runs, this limits one run).
    max_concurrent_steps: int = Field(default=8, gt=0)


def run_executor(settings: ExecutionSettings | None = None) -> dg.ExecutorDefinition | None:
    """The k8s_job_executor in the cluster; None (Dagster's default) everywhere else."""
    settings = settings or ExecutionSettings()
    if settings.executor == "k8s":
        return k8s_job_executor.configured(
            {"max_concurrent": settings.max_concurrent_steps}, name="k8s_job_executor"
        )
    return None
