"""Joining results with their samples and problems, whatever the order; refusing results that do not belong."""

from __future__ import annotations

from pathlib import Path

import pytest

from coderig_export.load import open_runs, resolve_scores
from coderig_schemas import InvalidInputError, RunStore
from tests.factories import make_problem, make_result, make_sample, publish_generate, publish_score


def publish(root: Path, result_order: list[int] | None = None, extra_result: bool = False) -> str:
    problems = [make_problem(f"p{i}") for i in range(3)]
    samples = [make_sample(p, k) for p in problems for k in range(2)]
    results = [make_result(s, "passed" if k % 2 else "wrong_answer") for k, s in enumerate(samples)]
    if result_order is not None:
        results = [results[i] for i in result_order]
    if extra_result:
        stray = make_sample(make_problem("p9"), 0)
        results.append(make_result(stray, "passed"))
    gen = publish_generate(root, problems, samples)
    return publish_score(root, gen, results).ref


def test_results_in_samples_order_join(run_store: Path) -> None:
    ref = publish(run_store)
    [run] = open_runs(RunStore(run_store), [ref])
    rows = list(run.rows())
    assert [r.sample.sample_id for r in rows] == [r.result.sample_id for r in rows]
    assert [r.problem.problem_id for r in rows] == ["p0", "p0", "p1", "p1", "p2", "p2"]


def test_results_out_of_order_still_join(run_store: Path) -> None:
    ref = publish(run_store, result_order=[5, 2, 0, 4, 1, 3])
    [run] = open_runs(RunStore(run_store), [ref])
    rows = list(run.rows())
    assert len(rows) == 6 and all(r.sample.sample_id == r.result.sample_id for r in rows)
    assert all(r.problem.problem_id == r.result.problem_id for r in rows)


def test_a_result_without_its_sample_is_refused_with_file_and_line(run_store: Path) -> None:
    ref = publish(run_store, extra_result=True)
    [run] = open_runs(RunStore(run_store), [ref])
    with pytest.raises(InvalidInputError) as e:
        list(run.rows())
    assert "results.jsonl:7: sample_id: 'p9#s0#0' is not in" in e.value.message


def test_globs_pick_the_newest_version_of_each_name(run_store: Path) -> None:
    problems = [make_problem("p0")]
    samples = [make_sample(problems[0])]
    gen = publish_generate(run_store, problems, samples)
    store = RunStore(run_store)
    old = publish_score(run_store, gen, [make_result(samples[0], "wrong_answer")])
    with store.begin(stage="score", name=gen.manifest.name, config={"scorer": "v2"}, inputs=[gen], tool="t", tool_version="0") as b:
        b.write_records("results.jsonl", [make_result(samples[0], "passed")])
        new = b.publish()
    assert [o.ref for o in resolve_scores(store, ["toy*"])] == [new.ref]
    assert {o.ref for o in resolve_scores(store, [old.ref, "toy*", old.ref])} == {old.ref, new.ref}
