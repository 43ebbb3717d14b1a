"""Scoring a generate output: reference timings, resumable units, shards and merge."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from coderig_schemas import InvalidInputError, Problem, PublishedOutput, ReferenceTiming, RunStore, Sample, ScoreResult, TaskType, Verdict
from coderig_schemas.environment import cpu_fingerprint
from coderig_schemas.io import hash_json
from coderig_schemas.layout import PASS_AT_K, PROBLEMS, REFERENCE_TIMINGS, RESULTS, SAMPLES
from coderig_schemas.store import check_name, output_key

from . import __version__, passk
from .math.pool import GraderLimits
from .sandbox import Limits, SandboxMode, SandboxSettings, WorkerPool, job_wall_s, make_job
from .timeouts import CASE_HOOK, SampleBudget, TimeoutPolicy, budget_for, measuring_budget
from .verdicts import has_code, judge, no_code_result, sandbox_error_result, server_killed_result

log = logging.getLogger("coderig.score")

TOOL = "coderig-score"
HOST_SLACK_S = 30.0
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


def problem_sha256(problem: Problem) -> str:
    """Identity of a problem's content (timings are valid for exactly this problem)."""
    return hash_json(problem.model_dump(mode="json"))


def build_job(problem: Problem, code: str, budget: SampleBudget, limits: Limits, max_timeouts: int) -> dict[str, Any]:
    """The worker message for one program against one problem."""
    return make_job(code, imports=list(problem.test_imports), prelude=[problem.setup_code, problem.test_preamble],
                    tests=[t.code for t in problem.tests], test_timeouts=budget.tests_s,
                    prelude_timeout=budget.prelude_s, sample_cap=budget.cap_s, limits=limits, max_timeouts=max_timeouts,
                    entry_point=problem.entry_point, wall_floor=budget.wall_floor_s, wall_factor=budget.wall_factor,
                    test_totals=budget.totals_s or None)


def host_timeout(job: dict[str, Any]) -> float:
    """How long the host waits for a worker's reply before declaring the harness broken."""
    return job_wall_s(job) + HOST_SLACK_S


def score_items(
    pool: WorkerPool, items: list[tuple[Any, Problem, Sample, SampleBudget]], limits: Limits, max_timeouts: int,
) -> Iterator[tuple[Any, ScoreResult, dict[str, Any] | None]]:
    """Score (key, problem, sample, budget) items; yield (key, result, raw reply) as they complete."""
    by_key = {key: (problem, sample) for key, problem, sample, _ in items}
    jobs = []
    for key, problem, sample, budget in items:
        if not has_code(sample):
            yield key, no_code_result(problem, sample), None
            continue
        job = build_job(problem, sample.extracted_code, budget, limits, max_timeouts)
        jobs.append((key, job, host_timeout(job)))
    for out in pool.run(jobs):
        problem, sample = by_key[out.key]
        if out.reply is None and out.server_killed:
            yield out.key, server_killed_result(problem, sample, out.attempts), None
        elif out.reply is None:
            yield out.key, sandbox_error_result(problem, sample, out.error or "unknown harness failure", out.attempts), None
        else:
            yield out.key, judge(problem, sample, out.reply, out.attempts), out.reply


def reference_sample(problem: Problem) -> Sample:
    """A stand-in sample carrying a problem's reference solution."""
    return Sample.model_validate({
        "sample_id": f"{problem.problem_id}#reference", "problem_id": problem.problem_id, "dataset": problem.dataset,
        "split": problem.split, "sample_index": 0, "seed": None, "model_name": "reference", "template_id": "reference",
        "template_sha256": "0" * 64, "prompt_sha256": "0" * 64, "raw_response": problem.reference_solution or "",
        "extracted_code": problem.reference_solution or "", "extraction_method": "verbatim", "finish_reason": "replay",
        "engine": "replay", "sampling": {"temperature": 0.0, "max_tokens": 1},
    })


def measure_references(pool: WorkerPool, problems: list[Problem], cfg: ScoreConfig,
                       advance: Callable[..., Any] | None = None) -> list[ReferenceTiming]:
    """Run every reference solution once through the sandbox; per-test CPU times and verdicts.

    CPU time (of all the reference's processes that were waited for) does not grow with the
    machine's load the way wall time does, so timings measured on a busy machine stay usable on a
    quiet one and the other way round.
    """
    machine = cpu_fingerprint()
    cap = max(cfg.reference_test_timeout_s * 4, cfg.timeouts.sample_cap_s)
    items = [(i, p, reference_sample(p), measuring_budget(p, cfg.reference_test_timeout_s, cap))
             for i, p in enumerate(problems) if p.reference_solution]
    found: dict[int, ReferenceTiming] = {}
    passed = 0
    for key, result, reply in score_items(pool, items, cfg.limits, max_timeouts=1):
        p = problems[key]
        setup = 0.0
        cpu: dict[str, float] = {}
        cases: dict[str, float] = {}
        if reply is not None:
            for r in reply["records"]:
                if r[0] == "prelude" and len(r) > 5:
                    setup = float(r[5])
                elif r[0] == "test" and len(r) > 7 and isinstance(r[1], int) and 0 <= r[1] < len(p.tests):
                    t = p.tests[r[1]]
                    cpu[t.test_id] = round(float(r[6]), 6)
                    if CASE_HOOK in t.code:
                        cases[t.test_id] = round(float(r[7]), 6)
        passed += result.passed
        found[key] = ReferenceTiming(
            problem_id=p.problem_id, dataset=p.dataset, problem_sha256=problem_sha256(p), verdict=result.verdict, clock="cpu",
            setup_duration_s=round(setup, 6),
            test_durations_s={o.test_id: cpu.get(o.test_id, o.duration_s) for o in result.tests},
            case_durations_s=cases, failing_test_id=result.failing_test_id,
            error_message=None if result.passed else f"{result.exception_type or ''}: {result.error_message or ''}".strip(": "),
            machine=machine,
        )
        if advance:
            advance(1, ref_pass=f"{passed}/{len(found)}")
    return [found[k] for k in sorted(found)]


@dataclass
class ReferenceInfo:
    """Reference timings of the problems of a run, and where they are stored."""

    output: PublishedOutput | None
    timings: dict[str, ReferenceTiming]
    measured_now: bool

    def pass_rate(self) -> float | None:
        """Share of reference solutions that pass on this machine (None without references)."""
        if not self.timings:
            return None
        return sum(t.verdict == Verdict.PASSED for t in self.timings.values()) / len(self.timings)

    def failures(self) -> list[ReferenceTiming]:
        """Reference solutions that did not pass."""
        return [t for t in self.timings.values() if t.verdict != Verdict.PASSED]


class LazyPool:
    """Starts the worker pool on first use (a no-op re-run never starts a sandbox)."""

    def __init__(self, settings: SandboxSettings, workers: int) -> None:
        self.settings, self.workers = settings, workers
        self.pool: WorkerPool | None = None

    def get(self) -> WorkerPool:
        """The started pool."""
        if self.pool is None:
            pool = WorkerPool(self.settings, self.workers)
            self.pool = pool.__enter__()
        return self.pool

    def close(self) -> None:
        """Stop the workers if started."""
        if self.pool is not None:
            self.pool.close()
            self.pool = None


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
    exact = store.root / "score" / name / output_key("score", hash_json(config), []) / "manifest.json"
    if not exact.is_file():
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


def _maybe_progress(rt: Runtime, description: str, total: int) -> Any:
    if rt.quiet or rt.progress is None:
        return _NullCtx()
    return rt.progress(description, total, rt.quiet)


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
            from coderig_schemas.cli_support import attach_log_file

            handler = attach_log_file(b.log_path)
            try:
                return _score_into(b, lazy, gen, problems, samples, shard, cfg, rt, refs)
            finally:
                logging.getLogger("coderig").removeHandler(handler)
                handler.close()
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
        with _maybe_progress(rt, "score", len(mine)) as advance, TaskDispatch(lazy, cfg, rt.workers) as dispatch:
            advance(n_done)
            t_start = time.monotonic()
            for n_new, ((k, j), result, _) in enumerate(dispatch.score(items), 1):
                buckets[k][j] = result
                n_done += 1
                n_pass += result.passed
                rate = n_new / max(time.monotonic() - t_start, 1e-6)
                advance(1, pass_rate=f"{n_pass / n_done:.1%}", rate=f"{rate:.1f}/s")
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


#: Task types graded in this process from the response text (nothing is executed): IFEval and BFCL.
TEXT_TASK_TYPES = frozenset({TaskType.INSTRUCTION_FOLLOWING, TaskType.FUNCTION_CALLING})


def grade_text(problem: Problem, sample: Sample) -> ScoreResult:
    """Grade an instruction-following (IFEval) or function-calling (BFCL) sample, in process."""
    if problem.task_type == TaskType.INSTRUCTION_FOLLOWING:
        from .ifeval.result import score_sample as score_ifeval

        return score_ifeval(problem, sample)
    from .bfcl.result import score_sample as score_bfcl

    return score_bfcl(problem, sample)


class TaskDispatch:
    """Sends each sample to its task type's grader: code to the sandbox, math to the answer grader pool.

    Each backend starts only when a sample needs it (a math run never starts a sandbox).
    """

    def __init__(self, lazy: LazyPool, cfg: ScoreConfig, workers: int) -> None:
        self.lazy, self.cfg, self.workers = lazy, cfg, workers
        self.math_pool: Any = None

    def __enter__(self) -> TaskDispatch:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.math_pool is not None:
            self.math_pool.close()

    def score(self, items: list[tuple[Any, Problem, Sample, SampleBudget]]) -> Iterator[tuple[Any, ScoreResult, dict[str, Any] | None]]:
        """(key, result, raw reply) for every item, code first, then math, then IFEval and BFCL."""
        code = [it for it in items if it[1].task_type == TaskType.CODE]
        math = [(key, problem, sample) for key, problem, sample, _ in items if problem.task_type == TaskType.MATH]
        text = [(key, problem, sample) for key, problem, sample, _ in items if problem.task_type in TEXT_TASK_TYPES]
        others = sorted({it[1].task_type.value for it in items}
                        - {TaskType.CODE.value, TaskType.MATH.value, *(t.value for t in TEXT_TASK_TYPES)})
        if others:
            raise InvalidInputError(f"this coderig-score cannot grade task type(s) {', '.join(others)}",
                                    hint="score them with a coderig-score that supports them")
        if code:
            yield from score_items(self.lazy.get(), code, self.cfg.limits, self.cfg.timeouts.max_timeouts)
        if math:
            from .math.grading import grade_items
            from .math.pool import GraderPool

            self.math_pool = GraderPool(self.workers, self.cfg.math).__enter__()
            yield from grade_items(self.math_pool, math)
        for key, problem, sample in text:
            yield key, grade_text(problem, sample), None

    def stats(self) -> dict[str, Any]:
        """The backends' part of the manifest's stats."""
        out: dict[str, Any] = {}
        pool = self.lazy.pool
        if pool is not None:
            out.update({"sandbox": pool.mode, "sandbox_layers": pool.layers, "python": pool.python,
                        "network_check": pool.network.detail if pool.network else None})
        if self.math_pool is not None:
            out["grader_restarts"] = self.math_pool.restarts
        return out


def pass_at_k_report(results: list[ScoreResult]) -> dict[str, Any]:
    """pass@k per problem (every k <= its n) and overall (every k <= the smallest n), for PASS_AT_K.

    Sandbox errors are left out of n and c: they are not the model's answers being wrong.
    """
    counts = passk.counts_from((r.problem_id, r.passed) for r in results if r.verdict != Verdict.SANDBOX_ERROR)
    n_max = max((n for n, _ in counts.values()), default=0)
    per = passk.per_problem(counts, range(1, n_max + 1))
    overall = passk.overall(counts)
    return {
        "k": sorted(overall),
        "overall": {str(k): v for k, v in overall.items()},
        "per_problem": {pid: {"n": counts[pid][0], "c": counts[pid][1], "pass_at_k": {str(k): v for k, v in per[pid].items()}}
                        for pid in counts},
    }


def result_stats(results: list[ScoreResult]) -> dict[str, Any]:
    """Counts by verdict, pass rate and pass@k (every k <= the smallest n)."""
    verdicts = Counter(r.verdict.value for r in results)
    scored = [r for r in results if r.verdict != Verdict.SANDBOX_ERROR]
    counts = passk.counts_from((r.problem_id, r.passed) for r in scored)
    stats: dict[str, Any] = {
        "samples": len(results), "passed": sum(r.passed for r in results),
        "pass_rate": (sum(r.passed for r in scored) / len(scored)) if scored else None,
        "verdicts": dict(sorted(verdicts.items())), "sandbox_errors": verdicts.get(Verdict.SANDBOX_ERROR.value, 0),
        "pass_at_k": {str(k): v for k, v in passk.overall(counts).items()},
    }
    from .ifeval.metrics import ifeval_metrics  # IFEval's four standard numbers, when there are IFEval samples

    if (ifeval := ifeval_metrics(results)) is not None:
        stats["ifeval"] = ifeval
    return stats


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
