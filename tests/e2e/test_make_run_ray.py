"""End to end through the Makefile with RUNNER=ray (a local Ray instance): `make run` and `make category` give the
native chain's outputs, every one of them verifiable, with a 100% pass rate for the reference replay, and a
second call publishes nothing."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from coderig_schemas import RunStore
from coderig_schemas.store import STAGES, verify_chain

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.ray, pytest.mark.sandbox]


def _make(target: str, runs: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    from tests.conftest import SHARED_DATA

    env = {**os.environ, "CODERIG_RUNS": str(runs), "CODERIG_DATA_DIR": str(SHARED_DATA), "HF_HUB_OFFLINE": "1", "RUNNER": "ray"}
    env.pop("RAY_ADDRESS", None)  # a local Ray instance
    args = ["make", "--no-print-directory", target, *(f"{k}={v}" for k, v in variables.items())]
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)  # a hang guard


def _published(runs: Path) -> set[str]:
    store = RunStore(runs)
    return {o.ref for st in STAGES for o in store.list_outputs(st)}


def test_ray_make_run_reference_scores_everything_and_is_idempotent(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    first = _make("run", runs, MODEL="reference", DATASET="mbpp", LIMIT="6")
    assert first.returncode == 0, first.stderr[-3000:]
    paths = first.stdout.split()
    assert [Path(p).relative_to(runs).parts[0] for p in paths] == ["generate", "score", "analyze", "export", "export"]
    store = RunStore(runs)
    score = store.resolve(str(Path(paths[1]).relative_to(runs)))
    assert score.manifest.stats["samples"] == 6 and score.manifest.stats["pass_rate"] == 1.0
    shards = [i.ref.split("/")[1].split("__")[0] for i in score.manifest.inputs[1:]]  # N = the machine's CPUs, at most 6
    assert shards == [f"shard{i}of{len(shards)}" for i in range(len(shards))] and len(shards) != 1
    for st in STAGES:
        for out in store.list_outputs(st):
            out.verify()
            verify_chain(out, store)
    before = _published(runs)
    second = _make("run", runs, MODEL="reference", DATASET="mbpp", LIMIT="6")
    assert second.returncode == 0, second.stderr[-3000:]
    assert second.stdout == first.stdout and _published(runs) == before


def test_ray_make_category(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    r = _make("category", runs, CATEGORY="small_models", MODEL="reference", LIMIT="2")
    assert r.returncode == 0, r.stderr[-3000:]
    paths = [Path(p).relative_to(runs).parts for p in r.stdout.split()]
    assert [p[0] for p in paths] == ["generate"] * 2 + ["score"] * 2 + ["analyze", "export", "export"]
    assert [p[1] for p in paths[-3:]] == ["small_models", "small_models__results", "small_models__finetune"]
