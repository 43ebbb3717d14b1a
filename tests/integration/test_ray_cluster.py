"""RUNNER=ray on a simulated Ray cluster (ray.cluster_utils.Cluster on this machine): a head and two worker nodes
with different resources, one of them a GPU node (a fake GPU: Ray only counts it).

The sweep is 2 replayed models x 2 datasets x 2 seeds ('reference' replays the datasets' solutions, 'alpha' a
file of answers, right on one problem only), run by `coderig-ray` (generate, score shards, merge, analyze,
export as tasks) and by the native chain (the stage commands one after another) into separate stores; every
published record must agree apart from timing fields. Then: a re-submission publishes nothing; a generate
task whose preset needs a GPU lands on the GPU node; a node that cannot see the store is refused with one
line; a worker node killed while it scores leaves the sweep complete, with no record lost or duplicated.

The machine is small and shared: nodes have 1-2 CPUs and 100 MB object stores, the cluster is started once
per session, and timeouts are only hang guards.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

ray = pytest.importorskip("ray")

from coderig_ray.driver import SweepConfig, local_plan  # noqa: E402
from coderig_ray.plan import generate_gpus, units_from_plan  # noqa: E402

pytestmark = [pytest.mark.ray, pytest.mark.sandbox, pytest.mark.slow]

BIN = Path(sys.executable).parent
OBJECT_STORE = 100 * 1024 * 1024
HANG_GUARD_S = 1800  # a whole sweep on a heavily loaded 2-core machine; never a measure of speed
GENERATE_ARGS = ["--model", "reference", "--model", "alpha", "--dataset", "mbpp", "--dataset", "humaneval",
                 "--seeds", "0,1", "--limit", "2", "--engine", "replay"]
# Fields that hold wall times (durations, latencies) and nothing else: they differ between any two runs.
TIMING_SUFFIX = "_s"
# The key of a score output: a hash of its inputs, which for a merged output are its shards (the native chain
# scores unsharded), so references to score outputs are compared by name. Generate keys are compared.
SCORE_KEY = re.compile(r"(score/[A-Za-z0-9._+=-]+)/[0-9a-f]{16}")
SCORED_ID = re.compile(r"(#\d+)@[0-9a-f]{16}$")  # a fine-tuning record's id: sample id @ the score output's key


# ------------------------------------------------------------------------------------------------ the cluster
@pytest.fixture(scope="session")
def cluster() -> Iterator[dict[str, Any]]:
    """A head (1 CPU), a CPU worker (2 CPUs) and a GPU worker (1 CPU, 1 fake GPU), for the whole session."""
    from ray.cluster_utils import Cluster

    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "object_store_memory": OBJECT_STORE,
                                                      "include_dashboard": False})
    cpu = c.add_node(num_cpus=2, object_store_memory=OBJECT_STORE)
    gpu = c.add_node(num_cpus=1, num_gpus=1, object_store_memory=OBJECT_STORE)
    c.wait_for_nodes(timeout=600)
    try:
        yield {"cluster": c, "address": c.address, "cpu": cpu, "gpu": gpu}
    finally:
        c.shutdown()


def _alive(c: Any) -> set[str]:
    return {n["NodeID"] for n in c.global_state.node_table() if n["Alive"]}


def _answers(root: Path, shared_data: Path) -> Path:
    """alpha's answers: wrong everywhere but MBPP 11 and HumanEval/0, whose reference solutions it replays."""
    from coderig_generate.datasets import load_problems

    mp = pytest.MonkeyPatch()
    mp.setenv("CODERIG_DATA_DIR", str(shared_data))
    lines = []
    try:
        for dataset, right in (("mbpp", "mbpp/11"), ("humaneval", "HumanEval/0")):
            for p in load_problems(dataset, split="test")[:2]:
                code = p.reference_solution if p.problem_id == right else "def nothing():\n    return None\n"
                lines.append(json.dumps({"problem_id": p.problem_id, "code": code}))
    finally:
        mp.undo()
    path = root / "alpha.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="session")
def sweep_inputs(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("raysweep")
    answers = _answers(root, shared_data)
    env = {**os.environ, "CODERIG_DATA_DIR": str(shared_data), "CODERIG_PROGRESS_INTERVAL": "0"}
    env.pop("RAY_ADDRESS", None)
    return {"root": root, "args": [*GENERATE_ARGS, "--replay-file", str(answers)], "env": env}


def _then(name: str) -> list[str]:
    return ["--then", f"analyze run {{scored}} --name {name}", "--then", f"export finetune {{scored}} --name {name}__finetune "
            "--include-eval-splits", "--then", f"export xlsx {{scored}} --name {name}__results"]


def _ray(inputs: dict[str, Any], store: Path, address: str, *extra: str, popen: bool = False) -> Any:
    cmd = [str(BIN / "coderig-ray"), "run", "--json", "--progress-interval", "5", *_then("sweep"), *extra, "--",
           *inputs["args"]]
    env = {**inputs["env"], "CODERIG_RUNS": str(store), "RAY_ADDRESS": address}
    if popen:
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=HANG_GUARD_S)


@pytest.fixture(scope="session")
def native(sweep_inputs: dict[str, Any]) -> Path:
    """The same sweep through the stage commands, one after another (the native runner's chain)."""
    store = sweep_inputs["root"] / "native"
    env = {**sweep_inputs["env"], "CODERIG_RUNS": str(store)}

    def stage(*args: str) -> list[str]:
        r = subprocess.run([str(BIN / f"coderig-{args[0]}"), *args[1:]], capture_output=True, text=True, env=env,
                           timeout=HANG_GUARD_S)
        assert r.returncode == 0, r.stderr[-2000:]
        return r.stdout.split()

    generated = stage("generate", "run", *sweep_inputs["args"])
    assert len(generated) == 8
    scored = [stage("score", "run", "--generate", g)[0] for g in generated]
    stage("analyze", "run", *scored, "--name", "sweep")
    stage("export", "finetune", *scored, "--name", "sweep__finetune", "--include-eval-splits")
    stage("export", "xlsx", *scored, "--name", "sweep__results")
    return store


@pytest.fixture(scope="session")
def ray_sweep(cluster: dict[str, Any], sweep_inputs: dict[str, Any]) -> dict[str, Any]:
    store = sweep_inputs["root"] / "ray"
    r = _ray(sweep_inputs, store, cluster["address"])
    assert r.returncode == 0, r.stderr[-3000:]
    return {"store": store, "result": json.loads(r.stdout), "stderr": r.stderr}


# ------------------------------------------------------------------------------------------------ comparing stores
def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if not k.endswith(TIMING_SUFFIX)}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    if isinstance(value, str):
        return _text(value)
    return value


def _text(s: str) -> str:
    return SCORED_ID.sub(r"\1@<key>", SCORE_KEY.sub(r"\1/<key>", s))


def _records(path: Path) -> list[Any]:
    return [_strip(json.loads(line)) for line in path.read_text().splitlines() if line.strip()]


def _latest(store: Path, stage: str, name: str) -> Path:
    from coderig_schemas import RunStore

    return RunStore(store).resolve(f"{stage}/{name}").path


def _names(store: Path, stage: str) -> list[str]:
    """The outputs a chain publishes (not the shards a merge took in, nor the reference timings, which are
    measurements of the machine: timing data)."""
    return sorted(p.name for p in (store / stage).iterdir() if not p.name.startswith(("shard", "reftimes__")))


def assert_same_outputs(native: Path, other: Path) -> None:
    """Every generate, score, analyze and export output of ``native`` has its twin in ``other`` with equal records
    (timing fields aside); no record is missing or repeated."""
    assert _names(native, "generate") == _names(other, "generate")
    assert _names(native, "score") == _names(other, "score")
    for name in _names(native, "generate"):
        for f in ("problems.jsonl", "samples.jsonl"):
            assert _records(_latest(native, "generate", name) / f) == _records(_latest(other, "generate", name) / f), (name, f)
    for name in _names(native, "score"):
        mine, theirs = _records(_latest(native, "score", name) / "results.jsonl"), _records(_latest(other, "score", name) / "results.jsonl")
        ids = [r["sample_id"] for r in theirs]
        assert len(ids) == len(set(ids)), f"{name}: a record is repeated"
        assert mine == theirs, name
        assert json.loads((_latest(native, "score", name) / "pass_at_k.json").read_text()) == \
            json.loads((_latest(other, "score", name) / "pass_at_k.json").read_text())
    a, b = _latest(native, "analyze", "sweep"), _latest(other, "analyze", "sweep")
    assert _records(a / "summaries.jsonl") == _records(b / "summaries.jsonl")
    for csv_name in ("metrics.csv", "pass_at_k.csv", "verdicts.csv"):
        assert _text((a / csv_name).read_text()) == _text((b / csv_name).read_text()), csv_name
    for f in ("finetune.jsonl", "chat.jsonl"):
        x, y = _latest(native, "export", "sweep__finetune") / f, _latest(other, "export", "sweep__finetune") / f
        assert _records(x) == _records(y), f
    assert (_latest(other, "export", "sweep__results") / "results.xlsx").stat().st_size > 0


def _published(store: Path) -> set[str]:
    return {str(p.parent.relative_to(store)) for p in store.glob("*/*/*/manifest.json")}


# ------------------------------------------------------------------------------------------------ the tests
def test_sweep_on_the_cluster_equals_the_native_chain(ray_sweep: dict[str, Any], native: Path) -> None:
    res = ray_sweep["result"]
    assert len(res["generated"]) == 8 and len(res["scored"]) == 8 and len(res["followups"]) == 3
    assert_same_outputs(native, ray_sweep["store"])
    tasks = [t for t in res["tasks"] if "rc" in t]
    assert {t["kind"] for t in tasks} == {"generate", "shard", "merge", "followup"}
    assert len([t for t in tasks if t["kind"] == "shard"]) == 16  # 2 shards (4 CPUs, 2 samples) per output
    assert all(t["gpus"] == 0 for t in tasks if t["kind"] == "generate")  # replay needs no GPU
    assert len({t["node_id"] for t in tasks}) >= 2  # the work was spread over the cluster
    shard_manifest = json.loads(next((ray_sweep["store"] / "score").glob("shard0of2__*/*/manifest.json")).read_text())
    assert shard_manifest["stats"]["sandbox"] == "bwrap"  # tasks score in the same sandbox as the native chain
    assert "tasks done" in ray_sweep["stderr"] and "eta" in ray_sweep["stderr"]


def test_resubmitting_the_sweep_publishes_nothing(cluster: dict[str, Any], sweep_inputs: dict[str, Any],
                                                  ray_sweep: dict[str, Any]) -> None:
    store = ray_sweep["store"]
    before = _published(store)
    r = _ray(sweep_inputs, store, cluster["address"])
    assert r.returncode == 0, r.stderr[-3000:]
    again = json.loads(r.stdout)
    assert _published(store) == before
    assert (again["generated"], again["scored"], again["followups"]) == \
        (ray_sweep["result"]["generated"], ray_sweep["result"]["scored"], ray_sweep["result"]["followups"])
    assert not [t for t in again["tasks"] if t["kind"] == "generate" and "rc" in t]  # published: no generate task ran
    assert not (store / ".ray-check").exists()


def test_a_generate_that_needs_a_gpu_lands_on_the_gpu_node(cluster: dict[str, Any], sweep_inputs: dict[str, Any],
                                                           tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from coderig_ray.tasks import stage_task

    monkeypatch.setenv("CODERIG_DATA_DIR", sweep_inputs["env"]["CODERIG_DATA_DIR"])
    cfg = SweepConfig(runs=tmp_path / "runs", generate_args=["--model", "qwen2_5_coder_7b", "--dataset", "mbpp",
                                                             "--preset", "balanced", "--limit", "1"])
    [unit] = units_from_plan(local_plan(cfg, cfg.generate_args))
    assert generate_gpus(unit, cluster_gpus=1) == 1 and generate_gpus(unit, cluster_gpus=0) == 0
    ray.init(address=cluster["address"], log_to_driver=False)
    try:
        # the real generate command as its plan (--dry-run: there is no real GPU to load the model on)
        out = ray.get(stage_task.options(num_cpus=1, num_gpus=generate_gpus(unit, 1)).remote(
            "generate", [*unit.argv(cfg.generate_args), "--dry-run"], str(cfg.runs),
            {"CODERIG_DATA_DIR": sweep_inputs["env"]["CODERIG_DATA_DIR"]}),
            timeout=HANG_GUARD_S)
    finally:
        ray.shutdown()
    assert out["rc"] == 0, out["stderr_tail"]
    assert out["node_id"] == cluster["gpu"].node_id


def test_a_node_that_cannot_see_the_store_is_refused(cluster: dict[str, Any], sweep_inputs: dict[str, Any],
                                                    tmp_path: Path) -> None:
    hidden = tmp_path / "shared"
    store = hidden / "runs"
    store.mkdir(parents=True)
    c = cluster["cluster"]
    before = _alive(c)
    # a real node whose file system lacks the store: its own mount namespace, an empty tmpfs over the store's parent
    node = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c",
                             f'mount -t tmpfs tmpfs "{hidden}" && exec "{BIN / "ray"}" start --address={c.address} '
                             f"--num-cpus=1 --object-store-memory={OBJECT_STORE} --block"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=sweep_inputs["env"])
    try:
        deadline = time.monotonic() + 600
        while len(_alive(c) - before) < 1:
            assert node.poll() is None, f"the extra node did not start: {node.stderr.read() if node.stderr else ''}"
            assert time.monotonic() < deadline, "the extra node never joined"
            time.sleep(0.5)
        [joined] = _alive(c) - before
        r = subprocess.run([str(BIN / "coderig-ray"), "run", "--", *sweep_inputs["args"]], capture_output=True, text=True,
                           timeout=HANG_GUARD_S, env={**sweep_inputs["env"], "CODERIG_RUNS": str(store), "RAY_ADDRESS": c.address})
    finally:
        node.terminate()
        node.wait(timeout=120)
    deadline = time.monotonic() + 600
    while joined in _alive(c) and time.monotonic() < deadline:  # gone before the next test's store check
        time.sleep(1)
    assert r.returncode == 3, r.stderr[-2000:]
    ours = [line for line in r.stderr.splitlines() if line.startswith("coderig-ray:")]
    assert len(ours) == 1 and ours[0].startswith(f"coderig-ray: ray node {joined[:12]} ") and "cannot see the run store" in ours[0]
    assert r.stdout == "" and not (store / "generate").exists()  # refused before any task


def _stage_processes_under(pid: int) -> list[psutil.Process]:
    try:
        kids = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    found = []
    for p in kids:
        try:
            if any("coderig-score" in part for part in p.cmdline()):
                found.append(p)
        except psutil.Error:
            continue
    return found


def test_a_worker_node_killed_mid_sweep_loses_and_repeats_nothing(cluster: dict[str, Any], sweep_inputs: dict[str, Any],
                                                                  native: Path) -> None:
    c = cluster["cluster"]
    victim = c.add_node(num_cpus=2, object_store_memory=OBJECT_STORE)
    c.wait_for_nodes(timeout=600)
    raylet = victim.all_processes["raylet"][0].process.pid
    store = sweep_inputs["root"] / "killed"
    driver = _ray(sweep_inputs, store, c.address, popen=True)
    killed_while_scoring = False
    deadline = time.monotonic() + HANG_GUARD_S
    while driver.poll() is None and time.monotonic() < deadline:
        if _stage_processes_under(raylet):  # a score task is running on the victim: take its node away
            c.remove_node(victim, allow_graceful=False)
            killed_while_scoring = True
            break
        time.sleep(0.05)
    out, err = driver.communicate(timeout=HANG_GUARD_S)
    if not killed_while_scoring:
        c.remove_node(victim, allow_graceful=False)
    assert killed_while_scoring, "no score task ever ran on the victim node"
    assert driver.returncode == 0, err[-3000:]
    assert_same_outputs(native, store)  # includes: no repeated sample_id, no missing one
    res = json.loads(out)
    assert len(res["scored"]) == 8 and victim.node_id not in {t["node_id"] for t in res["tasks"] if t["kind"] == "merge"}
