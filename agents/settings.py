"""How the agents behave: the model (if any), guardrail limits and unattended application.

Read once per process (``get_agent_settings``), never at import time.
"""

from __future__ import annotations

from functools import cache

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from warehouse.attribution import ATTRIBUTION_MODELS


class AgentSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BIZO_", extra="ignore", frozen=True)

    # `openai:MODEL`, `anthropic:MODEL` or `ollama:MODEL`; unset: the deterministic planner.
    llm: str | None = None
    llm_base_url: str | None = None  # Ollama's (or an OpenAI-compatible) server
    # Unattended application of approved-by-policy changes by the schedules and the sensor.
    auto_apply: bool = False
    # Changes at most this large (relative to the current budget) need no human approval.
    approval_threshold: float = Field(default=0.10, ge=0, le=1)
    # The most one budget line may move in one cycle, approved or not.
    max_change_per_cycle: float = Field(default=0.25, gt=0, le=1)
    # With auto-apply, at most this many changes are pushed per tenant and cycle.
    auto_apply_max_changes: int = Field(default=20, ge=0)
    min_days_of_data: int = Field(default=56, ge=14)
    min_daily_budget: float = Field(default=1.0, ge=0)  # spend floor per campaign
    max_daily_budget: float | None = None  # cap per campaign, account currency
    # The model closest to the sandbox's counterfactual truth (docs/attribution.md).
    attribution_model: str = "additive_hazard"
    risk_aversion: float = Field(default=0.5, ge=0)  # lambda in mean - lambda * sd
    curve_window_days: int = Field(default=182, ge=28)

    @field_validator("llm")
    @classmethod
    def _known_provider(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        provider, _, model = value.partition(":")
        if provider not in ("openai", "anthropic", "ollama") or not model:
            raise ValueError(
                f"BIZO_LLM must be openai:MODEL, anthropic:MODEL or ollama:MODEL, got {value!r}"
            )
        return value

    @field_validator("attribution_model")
    @classmethod
    def _known_model(cls, value: str) -> str:
        if value not in ATTRIBUTION_MODELS:
            raise ValueError(f"attribution model must be one of {ATTRIBUTION_MODELS}")
        return value


@cache
def get_agent_settings() -> AgentSettings:
    return AgentSettings()
