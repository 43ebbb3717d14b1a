"""End to end through the Makefile: the README's `make run` on real stages, the tiny model and reference replays."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from coderig_schemas import PublishedOutput, RunStore
from coderig_schemas.manifest import Stage
from coderig_schemas.store import STAGES, verify_chain

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _one(store: RunStore, stage: Stage, model_dataset: str, seed: int = 0) -> PublishedOutput:
    """The one output of a model on a dataset for a seed ('<model>__<dataset>__<split>__<settings>__s<seed>')."""
    [out] = store.list_outputs(stage, f"{model_dataset}__*__s{seed}")
    return out


def _env(runs: Path) -> dict[str, str]:
    # Offline: datasets come from ../shared/data, never the hub.
    from tests.conftest import SHARED_DATA

    return {**os.environ, "CODERIG_RUNS": str(runs), "CODERIG_DATA_DIR": str(SHARED_DATA), "HF_HUB_OFFLINE": "1",
            "HF_DATASETS_OFFLINE": "1"}


def _make(target: str, runs: Path, timeout: int = 1800, **variables: str) -> subprocess.CompletedProcess[str]:
    env = _env(runs)
    args = ["make", "--no-print-directory", target, *(f"{k}={v}" for k, v in variables.items())]
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def _published(runs: Path) -> set[str]:
    store = RunStore(runs)
    return {o.ref for st in STAGES for o in store.list_outputs(st)}


def _check_chain(runs: Path) -> None:
    store = RunStore(runs)
    for st in STAGES:
        outs = store.list_outputs(st)
        assert outs, f"no {st} output published"
        for out in outs:
            out.verify()
            verify_chain(out, store)
            if st != "generate":
                assert out.manifest.inputs, f"{out.ref} lists no inputs"


def _assert_loadable_finetune(out: Path, at_least: int) -> None:
    import tempfile

    from datasets import load_dataset

    cache = tempfile.mkdtemp(prefix="hf-cache-")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["stats"]["examples"] >= at_least, manifest["stats"]
    for name in ("finetune.jsonl", "chat.jsonl"):
        ds = load_dataset("json", data_files=str(out / name), split="train", cache_dir=cache)
        assert len(ds) == manifest["stats"]["examples"] and all(ds["task_id"])


def test_make_run_reference_mbpp_chains_and_is_idempotent(run_store: Path) -> None:
    first = _make("run", run_store, MODEL="reference", DATASET="mbpp")
    assert first.returncode == 0, first.stderr[-3000:]
    paths = first.stdout.split()
    assert len(paths) == 5 and all(Path(p).is_dir() for p in paths), first.stdout
    _check_chain(run_store)
    summaries = [json.loads(line) for line in (Path(paths[2]) / "summaries.jsonl").read_text().splitlines()]
    assert summaries[0]["total_problems"] == 500
    assert summaries[0]["pass_rate"] >= 0.99, summaries[0]
    # The demo exports data by default (MBPP test is an evaluation split, kept for the demo and said so).
    assert "demo: the fine-tuning set keeps evaluation splits" in first.stderr
    _assert_loadable_finetune(Path(paths[3]), at_least=400)
    before = _published(run_store)
    second = _make("run", run_store, MODEL="reference", DATASET="mbpp")
    assert second.returncode == 0, second.stderr[-3000:]
    assert second.stdout.split() == paths
    assert _published(run_store) == before


@pytest.mark.vllm
def test_make_run_tiny_random(run_store: Path) -> None:
    r = _make("run", run_store, MODEL="tiny-random", LIMIT="5", MAX_TOKENS="64")
    assert r.returncode == 0, r.stderr[-3000:]
    _check_chain(run_store)
    store = RunStore(run_store)
    gen = _one(store, "generate", "tiny-random__humaneval")
    assert gen.manifest.stats.get("samples", gen.entry("samples.jsonl").records) == 5
    score = _one(store, "score", "tiny-random__humaneval")
    assert score.entry("results.jsonl").records == 5
    # A random-weight model passes nothing; the demo's fine-tuning set takes the reference answers beside it.
    assert "takes the dataset's reference answers" in r.stderr
    # The default balanced mix of the 5 passing references (2 easy, 2 medium, 1 hard) takes one of each.
    _assert_loadable_finetune(Path(r.stdout.split()[-2]), at_least=3)
    before = _published(run_store)
    again = _make("run", run_store, MODEL="tiny-random", LIMIT="5", MAX_TOKENS="64")
    assert again.returncode == 0, again.stderr[-3000:]
    assert _published(run_store) == before


@pytest.mark.vllm
def test_make_run_tiny_random_on_math(run_store: Path) -> None:
    # The whole chain on a math set: the math template through the chat template (generation prompt added),
    # raw responses kept, graded answers (the tiny model's gibberish: no answer, or cut at max_tokens).
    r = _make("run", run_store, MODEL="tiny-random", DATASET="math500", LIMIT="5", MAX_TOKENS="64")
    assert r.returncode == 0, r.stderr[-3000:]
    _check_chain(run_store)
    store = RunStore(run_store)
    gen = _one(store, "generate", "tiny-random__math500")
    samples = [json.loads(line) for line in gen.path_of("samples.jsonl").read_text().splitlines()]
    assert len(samples) == 5 and {s["extraction_method"] for s in samples} == {"not_applicable"}
    assert all(s["prompt_text"].rstrip().endswith("<|im_start|>assistant") for s in samples)
    assert all("put your final answer within \\boxed{}" in s["prompt_text"] for s in samples)
    results = [json.loads(line) for line in _one(store, "score", "tiny-random__math500").path_of("results.jsonl")
               .read_text().splitlines()]
    assert len(results) == 5 and all(x["task_type"] == "math" and x["tests_total"] == 1 for x in results)


def test_category_dry_run_prints_the_plan(run_store: Path) -> None:
    r = _make("category", run_store, CATEGORY="coding_specialists", DRY_RUN="1", timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    plan = json.loads(r.stdout)
    models = {row["model"] for row in plan["runs"]}
    assert models == {"qwen3_8b", "qwen3_14b", "qwen3_32b", "qwen2_5_coder_7b", "qwen2_5_coder_14b"}
    datasets = {row["dataset"] for row in plan["runs"]}
    assert len(plan["runs"]) == 5 * len(datasets)
    assert all(row["prompts"] > 0 and row["samples"] >= row["prompts"] for row in plan["runs"])
    assert not (run_store / "generate").exists()
    # issue 12: 7 datasets across the four task types, and the plan in words on stderr
    assert datasets == {"humaneval", "mbpp", "humaneval_plus", "leetcode_hard", "bfcl_simple", "math500", "ifeval"}
    assert {t for row in plan["runs"] for t in row["task_types"]} == {"code", "function_calling", "math", "instruction_following"}
    assert "Would evaluate 35 tasks (5 models x 7 datasets)" in r.stderr
    assert "model qwen3_32b: preset balanced, vLLM takes 85% of each GPU; 2 GPU(s); weights about 64 GB (bfloat16)" in r.stderr
    assert "dataset ifeval: instruction_following; 541 prompts" in r.stderr


def test_make_run_reference_math_scores_everything(run_store: Path) -> None:
    # The small competition sets (the whole MATH-500 and GSM8K replay the same way, 500/500 and 1,319/1,319).
    r = _make("run", run_store, MODEL="reference", DATASET="aime24,aime25,amc23")
    assert r.returncode == 0, r.stderr[-3000:]
    _check_chain(run_store)
    analysis = Path(r.stdout.split()[-3])
    summaries = [json.loads(line) for line in (analysis / "summaries.jsonl").read_text().splitlines()]
    assert {(s["dataset"], s["total_problems"], s["pass_rate"]) for s in summaries} == {
        ("aime24", 30, 1.0), ("aime25", 30, 1.0), ("amc23", 40, 1.0)}
    per_seed = (analysis / "seed_analysis.csv").read_text().splitlines()
    assert len(per_seed) == 4 and all(",math,accuracy," in row for row in per_seed[1:])


def test_reasoning_category_dry_run_plans_qwen3_thinking_on_math(run_store: Path) -> None:
    r = _make("category", run_store, CATEGORY="reasoning", DRY_RUN="1", timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    plan = json.loads(r.stdout)
    assert {(row["model"], row["dataset"]) for row in plan["runs"]} == {
        (m, d) for m in ("qwen3_8b_thinking", "qwen3_14b_thinking", "qwen3_32b_thinking")
        for d in ("math500", "aime24", "aime25", "gsm8k")}
    assert all(row["template_id"] == "math_chat" and row["task_types"] == ["math"] for row in plan["runs"])
    assert not (run_store / "generate").exists()


def test_a_standalone_scorer_replaces_the_score_stage(run_store: Path) -> None:
    env = _env(run_store)
    venv = ROOT / ".venv" / "bin"
    gen = subprocess.run([venv / "coderig-generate", "run", "--model", "reference", "--engine", "replay",
                          "--dataset", "mbpp", "--limit", "20"], env=env, capture_output=True, text=True, timeout=600)
    assert gen.returncode == 0, gen.stderr
    alt = subprocess.run([sys.executable, ROOT / "examples" / "standalone_scorer" / "standalone_score.py", "--runs", run_store,
                          "--generate", gen.stdout.strip(), "--schemas", ROOT / "schemas" / "json"],
                         env=env, capture_output=True, text=True, timeout=600)
    assert alt.returncode == 0, alt.stderr
    score_path = alt.stdout.strip()
    manifest = json.loads((Path(score_path) / "manifest.json").read_text())
    assert manifest["tool"] == "standalone-score"
    ana = subprocess.run([venv / "coderig-analyze", "run", score_path, "--name", "swap"], env=env,
                         capture_output=True, text=True, timeout=600)
    assert ana.returncode == 0, ana.stderr
    summary = json.loads((Path(ana.stdout.strip()) / "summaries.jsonl").read_text().splitlines()[0])
    assert summary["total_problems"] == 20 and summary["passed_problems"] == 20
    exp = subprocess.run([venv / "coderig-export", "finetune", score_path, "--name", "swap", "--include-eval-splits"],
                         env=env, capture_output=True, text=True, timeout=600)
    assert exp.returncode == 0, exp.stderr
    assert (Path(exp.stdout.strip()) / "finetune.jsonl").read_text().count("\n") > 0


def test_the_standalone_scorer_keeps_the_contracts_execution_order(run_store: Path, tmp_path: Path) -> None:
    # test_imports, then the candidate, then setup_code: a candidate's own Sequence must not be shadowed by
    # `from typing import *` (LeetCode's maximize-the-distance-between-points-on-a-square), and setup code
    # may use the candidate.
    problem = {"problem_id": "order/1", "prompt": "p", "entry_point": "f", "test_imports": ["from typing import *"],
               "reference_solution": "class Sequence:\n    mine = True\ndef f():\n    return Sequence.mine\n",
               "setup_code": "EXPECTED = f()", "tests": ["assert f() is EXPECTED is True"]}
    data = tmp_path / "order.jsonl"
    data.write_text(json.dumps(problem) + "\n")
    env = _env(run_store)
    gen = subprocess.run([ROOT / ".venv" / "bin" / "coderig-generate", "run", "--model", "reference", "--engine", "replay",
                          "--dataset", "custom", "--data-file", data], env=env, capture_output=True, text=True, timeout=600)
    assert gen.returncode == 0, gen.stderr
    alt = subprocess.run([sys.executable, ROOT / "examples" / "standalone_scorer" / "standalone_score.py", "--runs", run_store,
                          "--generate", gen.stdout.strip(), "--schemas", ROOT / "schemas" / "json"],
                         env=env, capture_output=True, text=True, timeout=600)
    assert alt.returncode == 0, alt.stderr
    out = Path(alt.stdout.strip())
    [result] = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert result["verdict"] == "passed", result
    assert out.stat().st_mode & 0o777 == 0o755


def test_make_run_reference_bfcl_scores_everything(run_store: Path) -> None:
    # Issue 12: the first possible answer of every BFCL question, replayed, passes BFCL's AST checker.
    r = _make("run", run_store, MODEL="reference", DATASET="bfcl_simple,bfcl_multiple,bfcl_parallel")
    assert r.returncode == 0, r.stderr[-3000:]
    _check_chain(run_store)
    analysis = Path(r.stdout.split()[-3])
    summaries = [json.loads(line) for line in (analysis / "summaries.jsonl").read_text().splitlines()]
    assert {(s["dataset"], s["total_problems"], s["pass_rate"]) for s in summaries} == {
        ("bfcl_simple", 400, 1.0), ("bfcl_multiple", 200, 1.0), ("bfcl_parallel", 200, 1.0)}


@pytest.mark.vllm
def test_make_run_tiny_random_on_ifeval_and_bfcl(run_store: Path) -> None:
    # The real chain (vLLM on the tiny model) on the two text-graded task types: gibberish answers get verdicts.
    r = _make("run", run_store, MODEL="tiny-random", DATASET="ifeval,bfcl_parallel", LIMIT="3", MAX_TOKENS="32")
    assert r.returncode == 0, r.stderr[-3000:]
    _check_chain(run_store)
    store = RunStore(run_store)
    ifeval, bfcl = _one(store, "score", "tiny-random__ifeval"), _one(store, "score", "tiny-random__bfcl_parallel")
    assert ifeval.manifest.stats["samples"] == 3 and set(ifeval.manifest.stats["ifeval"]) >= {
        "prompt_level_strict_accuracy", "inst_level_strict_accuracy", "prompt_level_loose_accuracy", "inst_level_loose_accuracy"}
    assert bfcl.manifest.stats["samples"] == 3 and "ifeval" not in bfcl.manifest.stats
    assert "sandbox" not in ifeval.manifest.stats and "sandbox" not in bfcl.manifest.stats  # nothing was executed


def test_category_coding_specialists_runs_all_seven_datasets_offline(run_store: Path) -> None:
    # Issue 12: the category's 7 datasets (four task types) end to end with the replay engine, one comparison.
    r = _make("category", run_store, CATEGORY="coding_specialists", MODEL="reference", LIMIT="2")
    assert r.returncode == 0, r.stderr[-3000:]
    _check_chain(run_store)
    analysis = Path(r.stdout.split()[-3])
    comparison = json.loads((analysis / "comparison.json").read_text())
    assert set(comparison["datasets"]) == {"humaneval", "mbpp", "humaneval_plus", "leetcode_hard", "bfcl_simple", "math500", "ifeval"}
    rates = {c["dataset"]: c["pass_rate"]["estimate"] for c in comparison["cells"]}
    assert rates["ifeval"] == 0.0 and rates["bfcl_simple"] == rates["math500"] == rates["humaneval"] == 1.0
    # the comparison names its category and preset, and each dataset's (so each cell's) metric
    assert comparison["category"] == "coding_specialists" and comparison["presets"] == ["balanced"]
    assert comparison["metrics"] == {"humaneval": "pass@1", "mbpp": "pass@1", "humaneval_plus": "pass@1", "leetcode_hard": "pass@1",
                                     "bfcl_simple": "accuracy", "math500": "accuracy", "ifeval": "prompt_level_strict_accuracy"}
    report = (analysis / "report.md").read_text()
    assert "Category `coding_specialists`; preset `balanced`" in report
    assert "| prompt_level_strict_accuracy 0.0% [" in report and "| accuracy 100.0% [" in report and "| pass@1 100.0% [" in report
    metrics = (analysis / "metrics.csv").read_text()
    assert ",ifeval,0,instruction_following,inst_level_loose_accuracy,False," in metrics
