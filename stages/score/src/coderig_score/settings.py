"""How the sandbox is configured: resource limits of every sample, and how workers are started."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SandboxMode = Literal["auto", "bwrap", "none"]


class Limits(BaseModel):
    """Resource limits applied to every sample (defaults in docs/score.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    memory_mb: int = Field(default=2048, ge=64, description="Address-space limit per process (RLIMIT_AS), MiB.")
    file_mb: int = Field(default=16, ge=1, description="Largest file a program may write (RLIMIT_FSIZE), MiB.")
    open_files: int = Field(default=256, ge=16, description="Open file descriptors (RLIMIT_NOFILE).")
    processes: int = Field(default=32, ge=4, description="Processes of the sample's uid (RLIMIT_NPROC; with the uid drop).")
    output_kb: int = Field(default=64, ge=1, description="Captured stdout and stderr kept per sample, KiB each.")
    tmpfs_mb: int = Field(default=256, ge=16, description="Size of each worker's private /tmp, MiB.")


class SandboxSettings(BaseModel):
    """How workers are started."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: SandboxMode = Field(default="auto", description="bwrap, none (fork server only), or auto (bwrap when it starts).")
    python: str | None = Field(default=None, description="Interpreter of the workers (default: /usr/bin/python3 if usable).")
    limits: Limits = Field(default_factory=Limits)
    allow_open_network: bool = Field(default=False, description="Score even when the network check finds a way out.")
    run_as: int | None = Field(default=None, description="Start the workers as this uid (root only): the unprivileged layout.")
    protect: tuple[str, ...] = Field(default=(), description="Directories no program may reach (the run store): "
                                     "checked from inside the sandbox at start-up; reached means refused.")
