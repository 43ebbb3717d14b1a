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
    "tests.fixtures.datasets",
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


# ---------------------------------------------------------------- test tiers and what a test needs (pyproject markers)

#: The marker a fixture implies: a test that uses one (directly or through another fixture) needs what it names.
FIXTURE_NEEDS = {
    "score_pool": "sandbox",
    "score_code": "sandbox",
    "vllm_engine": "vllm",
    "vllm_server": "vllm",
    "tiny_model_dir": "vllm",  # building the tiny model takes torch and transformers, which come with vLLM
    "shared_data": "data",
    "load_dataset": "data",
    "publish_reference": "data",
}

#: What tests/unit, the fast tier (`make test-fast`), must not need: those tests belong in tests/integration.
NOT_IN_UNIT = ("sandbox", "vllm", "torch", "containers", "e2e", "slow")


@pytest.hookimpl(tryfirst=True)  # before -m deselects, so that `-m "not vllm"` sees the markers added here
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Add the markers the fixtures imply; refuse a torch test -m "not vllm" would keep, or a heavy test in tests/unit."""
    unit = ROOT / "tests" / "unit"
    misplaced = []
    for item in items:
        for fixture in getattr(item, "fixturenames", ()):
            marker = FIXTURE_NEEDS.get(fixture)
            if marker and item.get_closest_marker(marker) is None:
                item.add_marker(marker)
        if item.get_closest_marker("torch") and not item.get_closest_marker("vllm"):
            raise pytest.UsageError(f"{item.nodeid} is marked torch but not vllm; torch comes with vLLM, so mark it vllm too "
                                    "(`pytest -m \"not vllm\"` must run on a machine without either)")
        heavy = [name for name in NOT_IN_UNIT if item.get_closest_marker(name)]
        if heavy and item.path.is_relative_to(unit):
            misplaced.append(f"{item.nodeid} ({', '.join(heavy)})")
    if misplaced:
        raise pytest.UsageError("tests/unit is the fast tier (no sandbox, engine, container or slow test); move to tests/integration: "
                                + "; ".join(misplaced))
