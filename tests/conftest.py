"""Shared fixtures: every test gets its own run store; the benchmark files come from ../shared/data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("CODERIG_SHARED_DATA", ROOT.parent / "shared" / "data")).resolve()

# Each stage keeps its fixtures in tests/fixtures/<stage>.py so that stages can be worked on side by side.
pytest_plugins = [
    "tests.fixtures.generate",
    "tests.fixtures.score",
    "tests.fixtures.analyze",
    "tests.fixtures.export",
]


@pytest.fixture(autouse=True)
def run_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the run store (CODERIG_RUNS) at a fresh directory for every test."""
    root = tmp_path / "runs"
    monkeypatch.setenv("CODERIG_RUNS", str(root))
    return root


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The public benchmark files (../shared/data); never copied into the project."""
    if not (SHARED_DATA / "HumanEval.jsonl.gz").is_file():
        pytest.fail(f"benchmark data not found at {SHARED_DATA}; set CODERIG_SHARED_DATA")
    return SHARED_DATA
