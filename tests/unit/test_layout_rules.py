"""Project-shape rules: no stage imports another, --help stays light, every command is documented."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STAGES = ["generate", "score", "analyze", "export"]


def test_no_stage_imports_another_stage() -> None:
    offenders = []
    for stage in STAGES:
        for py in (ROOT / "stages" / stage).rglob("*.py"):
            text = py.read_text()
            for other in STAGES:
                if other != stage and re.search(rf"^\s*(from|import)\s+coderig_{other}\b", text, re.M):
                    offenders.append(f"{py.relative_to(ROOT)} imports coderig_{other}")
    assert offenders == []


def test_each_stage_is_a_package_with_script_and_dockerfile() -> None:
    for stage in STAGES:
        d = ROOT / "stages" / stage
        pyproject = (d / "pyproject.toml").read_text()
        assert f'coderig-{stage} = "coderig_{stage}.cli:main"' in pyproject
        assert (d / "src" / f"coderig_{stage}" / "cli.py").is_file()


def test_score_package_carries_no_ml_libraries() -> None:
    text = (ROOT / "stages" / "score" / "pyproject.toml").read_text().lower()
    for lib in ("torch", "vllm", "transformers", "numpy", "tensorflow"):
        assert lib not in text
