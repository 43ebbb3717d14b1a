"""Capture of the environment an output was computed in."""

from __future__ import annotations

import os
import platform
import shutil
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from .manifest import Environment


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_fingerprint() -> str:
    """CPU model and logical core count, e.g. 'Intel Xeon ... x2'."""
    return f"{_cpu_model()} x{os.cpu_count() or 1}"


def accelerator() -> str:
    """GPU names and memory from nvidia-smi, or 'cpu' when there is none."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return "cpu"
    try:
        out = subprocess.run(
            [smi, "--query-gpu=name,memory.total", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "cpu"
    return "; ".join(line.strip() for line in out.splitlines() if line.strip()) or "cpu"


def package_versions(names: list[str]) -> dict[str, str]:
    """Installed versions of the named distributions ('absent' when not installed)."""
    found: dict[str, str] = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "absent"
    return found


def capture_environment(packages: list[str]) -> Environment:
    """Describe this process's environment for a manifest."""
    return Environment(
        python=sys.version.split()[0],
        platform=platform.platform(),
        hostname=socket.gethostname(),
        cpu=cpu_fingerprint(),
        accelerator=accelerator(),
        packages=package_versions(["coderig-schemas", *packages]),
    )


def git_sha(start: Path | None = None) -> str | None:
    """Commit of the source tree containing start (or CODERIG_GIT_SHA in images), if any."""
    env = os.environ.get("CODERIG_GIT_SHA")
    if env:
        return env
    here = start or Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    sha = out.stdout.strip()
    return sha if out.returncode == 0 and len(sha) == 40 else None
