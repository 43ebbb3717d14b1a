"""Scoring a generate output: the run's config, reference timings in the store, resumable units, shards and merge.

What a run is made of lives beside it: ``dispatch`` (each sample to its grader), ``calibration`` (measuring
the references), ``pool`` (the sandboxed workers), ``stats`` (the output's numbers).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from coderig_schemas import (
    InvalidInputError,
    Problem,
    PublishedOutput,
    ReferenceTiming,
    RunStore,
    Sample,
    ScoreResult,
    TaskType,
    Verdict,
)
from coderig_schemas.environment import cpu_fingerprint
from coderig_schemas.io import hash_json
from coderig_schemas.layout import PASS_AT_K, PROBLEMS, REFERENCE_TIMINGS, RESULTS, SAMPLES
from coderig_schemas.passk import pass_rate
from coderig_schemas.store import check_name, output_key

from . import __version__
from .calibration import measure_references, problem_sha256, reference_sample
from .dispatch import TaskDispatch, score_items
from .math.pool import GraderLimits
from .pool import LazyPool
from .settings import Limits, SandboxMode, SandboxSettings
from .stats import pass_at_k_report, result_stats
from .timeouts import TimeoutPolicy, budget_for

# Names other modules and the tests import from here.
__all__ = [
    "TOOL", "LazyPool", "ReferenceInfo", "Runtime", "ScoreConfig", "Summary", "TaskDispatch", "ensure_reference_timings",
    "load_generate", "measure_references", "merge_shards", "pass_at_k_report", "problem_sha256", "reference_sample",
    "result_stats", "run_score", "score_items", "shard_of", "store_config",
]

log = logging.getLogger("coderig.score")

TOOL = "coderig-score"
REFERENCE_WARN_BELOW = 0.99


class ScoreConfig(BaseModel):
    """Everything that can change a score output's records (goes into its manifest and key)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timeouts: TimeoutPolicy = Field(default_factory=TimeoutPolicy)
    limits: Limits = Field(default_factory=Limits)
    sandbox: SandboxMode = Field(default="auto", description="Requested sandbox mode.")
    calibrate: bool = Field(default=True, description="Calibrate timeouts on the reference solutions' timings.")
    reference_test_timeout_s: float = Field(default=120.0, gt=0, description="Per-test limit while timing references.")
    shard: str | None = Field(default=None, pattern=r"^\d+/\d+$", description="'i/N': score the i-th of N slices (0-based).")
    unit_size: int = Field(default=25, ge=1, le=10_000, description="Samples per resumable unit.")
    allow_open_network: bool = Field(default=False, description="--i-know-the-network-is-open was given.")
    math: GraderLimits = Field(default_factory=GraderLimits, description="Limits of the math answer grader.")

    @field_validator("shard")
    @classmethod
    def _slice_exists(cls, value: str | None) -> str | None:
        # A bad option (exit 2), found before anything is read or started.
        if value is not None:
            i, n = (int(x) for x in value.split("/"))
            if n < 1 or not 0 <= i < n:
                raise ValueError(f"{value}: need 0 <= i < N (e.g. 0/4 ... 3/4)")
        return value

    def shard_parts(self) -> tuple[int, int] | None:
        """(i, N) of --shard, validated."""
        if self.shard is None:
            return None
        i, n = (int(x) for x in self.shard.split("/"))
        if n < 1 or not 0 <= i < n:
            raise InvalidInputError(f"--shard {self.shard}: need 0 <= i < N", hint="e.g. --shard 0/4 ... --shard 3/4")
        return i, n


@dataclass
class Runtime:
    """Options that do not change results: worker count, interpreter, progress."""

    workers: int
    python: str | None = None
    quiet: bool = True
    progress: Callable[..., Any] | None = None


@dataclass
class Summary:
    """What a run did, for stdout (--json) and the manifest's stats."""

    output: PublishedOutput
    stats: dict[str, Any] = field(default_factory=dict)


@dataclass
class ReferenceInfo:
    """Reference timings of the problems of a run, and where they are stored."""

    output: PublishedOutput | None
    timings: dict[str, ReferenceTiming]
    measured_now: bool

    def pass_rate(self) -> float | None:
        """Share of reference solutions that pass on this machine (None without references)."""
        return pass_rate(sum(t.verdict == Verdict.PASSED for t in self.timings.values()), len(self.timings))

    def failures(self) -> list[ReferenceTiming]:
        """Reference solutions that did not pass."""
        return [t for t in self.timings.values() if t.verdict != Verdict.PASSED]


def ensure_reference_timings(store: RunStore, problems: list[Problem], cfg: ScoreConfig, lazy: LazyPool,
                             rt: Runtime, source: PublishedOutput) -> ReferenceInfo:
    """The reference timings of these problems on this machine: read them, or measure and publish once."""
    # Only code references run in the sandbox; a math problem's reference is a worked solution.
    with_ref = [p for p in problems if p.reference_solution and p.task_type == TaskType.CODE]
    if not with_ref:
        return ReferenceInfo(None, {}, False)
    dataset = check_name(with_ref[0].dataset)
    config = {
        "kind": "reference-timings", "clock": "cpu", "dataset": dataset, "machine": cpu_fingerprint(),
        "problems_sha256": hash_json([problem_sha256(p) for p in with_ref]),
        "reference_test_timeout_s": cfg.reference_test_timeout_s, "limits": cfg.limits.model_dump(mode="json"),
    }
    name = f"reftimes__{dataset}"
    if store.published("score", name, output_key("score", hash_json(config), [])) is None:
        covering = _covering_timings(store, name, config, with_ref)
        if covering is not None:
            return covering
    # The generate output the problems came from is listed for provenance; the key depends on the problems'
    # content (in config) only, so any output with the same problems reuses these timings. Every run on
    # these problems needs them (shards started together, other models' runs): whoever comes second waits
    # for the one measuring, then reads what it published, instead of refusing (exit 4).
    with store.begin(stage="score", name=name, config=config, inputs=[source], tool=TOOL,
                     tool_version=__version__, key_from_inputs=False, wait=True) as b:
        if b.existing is not None:
            timings = list(b.existing.records(REFERENCE_TIMINGS, ReferenceTiming))
            return ReferenceInfo(b.existing, {t.problem_id: t for t in timings}, False)
        log.info("measuring the reference solutions of %d %s problems on this machine (once per dataset)", len(with_ref), dataset)
        pool = lazy.get()
        with _maybe_progress(rt, f"reference timings {dataset}", len(with_ref)) as advance:
            timings = measure_references(pool, with_ref, cfg, advance)
        b.mark("measure")
        b.write_records(REFERENCE_TIMINGS, timings)
        passed = sum(t.verdict == Verdict.PASSED for t in timings)
        out = b.publish(stats={"problems": len(timings), "reference_passed": passed, "source": source.ref,
                               "sandbox": pool.mode, "python": pool.python})
        return ReferenceInfo(out, {t.problem_id: t for t in timings}, True)


def _covering_timings(store: RunStore, name: str, config: dict[str, Any], problems: list[Problem]) -> ReferenceInfo | None:
    """Timings of these exact problems from an earlier measurement of more of the dataset, if any.

    The newest output measured on this machine with the same settings that covers every problem
    (same content, by sha256) is used, so a subset (--limit) never measures again.
    """
    same = {k: config[k] for k in ("clock", "machine", "reference_test_timeout_s", "limits")}
    wanted = {p.problem_id: problem_sha256(p) for p in problems}
    for out in reversed(store.list_outputs("score", name)):
        if out.manifest.name != name or {k: out.manifest.config.get(k) for k in same} != same:
            continue
        timings = {t.problem_id: t for t in out.records(REFERENCE_TIMINGS, ReferenceTiming)}
        if all(pid in timings and timings[pid].problem_sha256 == sha for pid, sha in wanted.items()):
            log.info("using reference timings of %s (measured on this machine)", out.ref)
            return ReferenceInfo(out, {pid: timings[pid] for pid in wanted}, False)
    return None


class _NullCtx:
    def __enter__(self) -> Callable[..., None]:
        return lambda n=1, **kw: None

    def __exit__(self, *exc: object) -> None:
        return None


def _maybe_progress(rt: Runtime, description: str, total: int, completed: int = 0) -> Any:
    if rt.quiet or rt.progress is None:
        return _NullCtx()
    return rt.progress(description, total, rt.quiet, completed=completed)


def shard_of(samples: list[Sample], shard: tuple[int, int] | None) -> list[tuple[int, Sample]]:
    """(position, sample) of the slice: positions p with p % N == i (deterministic, balanced over problems)."""
    if shard is None:
        return list(enumerate(samples))
    i, n = shard
    return [(p, s) for p, s in enumerate(samples) if p % n == i]


def load_generate(store: RunStore, ref: str) -> tuple[PublishedOutput, list[Problem], list[Sample]]:
    """Open a generate output and read its problems and samples (hash-checked)."""
    gen = store.resolve(ref, stage="generate")
    problems = list(gen.records(PROBLEMS, Problem))
    samples = list(gen.records(SAMPLES, Sample))
    known = {p.problem_id for p in problems}
    for s in samples:
        if s.problem_id not in known:
            raise InvalidInputError(f"{gen.path / SAMPLES}: sample {s.sample_id} answers unknown problem {s.problem_id}",
                                    hint="the generate output is inconsistent; re-run generate")
    return gen, problems, samples


def run_score(store: RunStore, generate_ref: str, cfg: ScoreConfig, rt: Runtime) -> Summary:
    """Score a generate output (or one shard of it) and publish the results."""
    gen, problems, samples = load_generate(store, generate_ref)
    shard = cfg.shard_parts()
    settings = SandboxSettings(mode=cfg.sandbox, python=rt.python, limits=cfg.limits, allow_open_network=cfg.allow_open_network,
                               protect=(str(store.root),))
    lazy = LazyPool(settings, rt.workers)
    try:
        refs = (ensure_reference_timings(store, problems, cfg, lazy, rt, gen) if cfg.calibrate
                else ReferenceInfo(None, {}, False))
        rate = refs.pass_rate()
        if rate is not None and rate < REFERENCE_WARN_BELOW:
            # The commonest error usually names the cause (e.g. a module the sandbox interpreter lacks).
            error, count = Counter(t.error_message or t.verdict.value for t in refs.failures()).most_common(1)[0]
            log.warning("!!! only %.1f%% of the reference solutions pass on this machine (%d fail; %d with %r): verdicts "
                        "here are suspect; see 'coderig-score run --check-references' !!!", 100 * rate, len(refs.failures()),
                        count, error)
        name = gen.manifest.name if shard is None else f"shard{shard[0]}of{shard[1]}__{gen.manifest.name}"
        inputs = [gen] + ([refs.output] if refs.output is not None else [])
        with store.begin(stage="score", name=name, config=store_config(cfg, problems), inputs=inputs, tool=TOOL,
                         tool_version=__version__) as b:
            if b.existing is not None:
                return Summary(b.existing, dict(b.existing.manifest.stats))
            with b.log_to_file():
                return _score_into(b, lazy, gen, problems, samples, shard, cfg, rt, refs)
    finally:
        lazy.close()


def store_config(cfg: ScoreConfig, problems: list[Problem]) -> dict[str, Any]:
    """The config recorded in the manifest (and hashed into the key): the grader's limits only where they apply.

    So a code-only output keeps the key it had before math grading existed.
    """
    has_math = any(p.task_type == TaskType.MATH for p in problems)
    return cfg.model_dump(mode="json", exclude=None if has_math else {"math"})


def _score_into(b: Any, lazy: LazyPool, gen: PublishedOutput, problems: list[Problem], samples: list[Sample],
                shard: tuple[int, int] | None, cfg: ScoreConfig, rt: Runtime, refs: ReferenceInfo) -> Summary:
    by_id = {p.problem_id: p for p in problems}
    mine = shard_of(samples, shard)
    units = [mine[i:i + cfg.unit_size] for i in range(0, len(mine), cfg.unit_size)]
    names = [f"u{k:06d}" for k in range(len(units))]
    done = b.completed_units()
    pending = [k for k, n in enumerate(names) if n not in done]
    budgets = {p.problem_id: budget_for(p, refs.timings.get(p.problem_id), cfg.timeouts) for p in problems}
    for pid, t in refs.timings.items():
        if pid in by_id and t.problem_sha256 and t.problem_sha256 != problem_sha256(by_id[pid]):
            budgets[pid] = budget_for(by_id[pid], None, cfg.timeouts)
    log.info("scoring %d samples of %s (%d units, %d already done)%s", len(mine), gen.ref, len(units), len(units) - len(pending),
             f", shard {cfg.shard}" if shard else "")
    t0 = time.monotonic()
    n_done = n_pass = 0
    for k in range(len(units)):
        if k not in pending:
            for r in b.read_unit(names[k], ScoreResult):
                n_done += 1
                n_pass += r.passed
    stats_extra: dict[str, Any] = {}
    if pending:
        items = [((k, j), by_id[s.problem_id], s, budgets[s.problem_id]) for k in pending for j, (_, s) in enumerate(units[k])]
        buckets: dict[int, dict[int, ScoreResult]] = {k: {} for k in pending}
        # Resumed samples count in done/total but not in the rate (the helper computes rate and ETA).
        with _maybe_progress(rt, f"score {b.ref}", len(mine), completed=n_done) as advance, \
                TaskDispatch(lazy, cfg, rt.workers) as dispatch:
            for (k, j), result, _ in dispatch.score(items):
                buckets[k][j] = result
                n_done += 1
                n_pass += result.passed
                advance(1, pass_rate=f"{n_pass / n_done:.1%}")
                if len(buckets[k]) == len(units[k]):
                    b.write_unit(names[k], [buckets[k][j] for j in range(len(units[k]))])
                    del buckets[k]
            stats_extra = dispatch.stats()
    b.mark("score")
    results: list[ScoreResult] = [r for n in names for r in b.read_unit(n, ScoreResult)]
    b.write_records(RESULTS, results)
    b.write_json(PASS_AT_K, pass_at_k_report(results))
    wall = time.monotonic() - t0
    stats = result_stats(results)
    stats.update(stats_extra)
    stats.update({"workers": rt.workers, "wall_s": round(wall, 3), "shard": cfg.shard,
                  "reference_pass_rate": refs.pass_rate(), "reference_failures": [t.problem_id for t in refs.failures()]})
    out = b.publish(stats=stats, schema_names={RESULTS: "score_result"})
    return Summary(out, stats)


def merge_shards(store: RunStore, refs: list[str]) -> Summary:
    """Publish the union of a complete set of shard outputs with one manifest listing them all."""
    shards = [store.resolve(r, stage="score") for r in refs]
    if not shards:
        raise InvalidInputError("no shard outputs given", hint="pass every 'score/shard<i>of<N>__<name>' output")
    base_cfgs: set[str] = set()
    seen: dict[int, str] = {}
    gen_refs: set[str] = set()
    n_total = None
    for s in shards:
        cfg = dict(s.manifest.config)
        shard = cfg.pop("shard", None)
        if not shard:
            raise InvalidInputError(f"{s.ref} is not a shard output", hint="merge only outputs made with --shard i/N")
        i, n = (int(x) for x in shard.split("/"))
        if n_total is not None and n != n_total:
            raise InvalidInputError(f"{s.ref} is shard {shard}, others are of {n_total}", hint="merge shards of one split")
        n_total = n
        if i in seen:
            raise InvalidInputError(f"shard {shard} given twice ({seen[i]} and {s.ref})", hint="give each shard once")
        seen[i] = s.ref
        base_cfgs.add(hash_json(cfg))
        gen_refs.update(inp.ref for inp in s.manifest.inputs if inp.ref.startswith("generate/"))
    assert n_total is not None
    missing = sorted(set(range(n_total)) - set(seen))
    if missing:
        raise InvalidInputError(f"shards {missing} of {n_total} are missing", hint="score them with --shard i/N first")
    if len(base_cfgs) != 1 or len(gen_refs) != 1:
        raise InvalidInputError("the shards were made from different generate outputs or configs",
                                hint="merge shards of one 'coderig-score run' command line")
    gen = store.resolve(next(iter(gen_refs)), stage="generate")
    samples = list(gen.records(SAMPLES, Sample))
    order = {s.sample_id: p for p, s in enumerate(samples)}
    results: dict[str, ScoreResult] = {}
    for s in shards:
        for r in s.records(RESULTS, ScoreResult):
            if r.sample_id in results:
                raise InvalidInputError(f"{s.ref}: sample {r.sample_id} is in two shards", hint="re-run the shards")
            results[r.sample_id] = r
    if set(results) != set(order):
        raise InvalidInputError(f"the shards hold {len(results)} results for {len(order)} samples",
                                hint="re-run the incomplete shard")
    merged = sorted(results.values(), key=lambda r: order[r.sample_id])
    cfg = dict(shards[0].manifest.config)
    cfg["shard"] = None
    cfg["merged_shards"] = n_total
    ordered = [shards[[s.ref for s in shards].index(seen[i])] for i in range(n_total)]
    with store.begin(stage="score", name=gen.manifest.name, config=cfg, inputs=[gen, *ordered], tool=TOOL,
                     tool_version=__version__) as b:
        if b.existing is not None:
            return Summary(b.existing, dict(b.existing.manifest.stats))
        b.write_records(RESULTS, merged)
        b.write_json(PASS_AT_K, pass_at_k_report(merged))
        stats = result_stats(merged)
        stats["merged_from"] = [seen[i] for i in range(n_total)]
        return Summary(b.publish(stats=stats, schema_names={RESULTS: "score_result"}), stats)
