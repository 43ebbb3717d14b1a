"""Calibration: the reference solutions' CPU times per test, measured through the sandbox.

The per-test time limits are a factor of these (``timeouts.budget_for``). Finding stored timings or
measuring and publishing them once per dataset and machine is ``scoring.ensure_reference_timings``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from coderig_schemas import Problem, ReferenceTiming, Sample
from coderig_schemas.environment import cpu_fingerprint
from coderig_schemas.io import hash_json

from .dispatch import score_items
from .pool import WorkerPool
from .protocol import PreludeRecord, TestRecord
from .timeouts import CASE_HOOK, measuring_budget

if TYPE_CHECKING:
    from .scoring import ScoreConfig


def problem_sha256(problem: Problem) -> str:
    """Identity of a problem's content (timings are valid for exactly this problem)."""
    return hash_json(problem.model_dump(mode="json"))


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
                if isinstance(r, PreludeRecord):
                    setup = r.cpu_s
                elif isinstance(r, TestRecord) and 0 <= r.test_index < len(p.tests):
                    t = p.tests[r.test_index]
                    cpu[t.test_id] = round(r.cpu_s, 6)
                    if CASE_HOOK in t.code:
                        cases[t.test_id] = round(r.slowest_case_cpu_s, 6)
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
