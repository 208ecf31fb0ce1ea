"""ML runtime settings (device, threads, batch sizes), read once per process."""

from __future__ import annotations

import os
from functools import cache

import torch
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class MlSettings(BaseSettings):
    """`BIZO_ML_DEVICE` forces a device (cpu, cuda, cuda:1); unset picks CUDA when present."""

    model_config = SettingsConfigDict(env_prefix="BIZO_ML_", extra="ignore", frozen=True)

    device: str | None = None
    # Intra-op threads on the CPU; unset uses every core the process may run on.
    threads: int | None = Field(default=None, ge=1)
    embedding_batch_size: int = Field(default=64, ge=1)
    scoring_batch_size: int = Field(default=65_536, ge=1)

    def torch_device(self) -> torch.device:
        if self.device:
            return torch.device(self.device)
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")

    def cpu_threads(self) -> int:
        return self.threads or len(os.sched_getaffinity(0))


@cache
def get_ml_settings() -> MlSettings:
    return MlSettings()


def configure_torch(settings: MlSettings | None = None) -> torch.device:
    """Set the CPU thread count for this machine and return the device to run on."""
    settings = settings or get_ml_settings()
    torch.set_num_threads(settings.cpu_threads())
    return settings.torch_device()


def half_precision_safe(device: torch.device) -> bool:
    """fp16 inference is safe for the encoder on CUDA (outputs are re-normalised in fp32);
    on the CPU fp16 matmuls are slow and lossy, so it stays fp32 there."""
    return device.type == "cuda"
