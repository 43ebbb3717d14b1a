"""Joining results with their samples and problems, whatever the order; refusing results that do not belong."""

from __future__ import annotations

from pathlib import Path

import pytest

from coderig_export.load import open_runs, resolve_scores
from coderig_schemas import InvalidInputError, RunStore
from tests.factories import make_problem, make_result, make_sample, publish_generate, publish_score, scored_run


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


def publish_sharded(root: Path, merge: bool = True) -> dict[str, str]:
    """A generate output of 4 samples scored in 2 shards ('score/shard<i>of2__<name>'), and their merged output."""
    problems = [make_problem(f"p{i}") for i in range(4)]
    samples = [make_sample(p) for p in problems]
    gen = publish_generate(root, problems, samples)
    store = RunStore(root)
    refs: dict[str, str] = {}
    shards = []
    for i in range(2):
        with store.begin(stage="score", name=f"shard{i}of2__{gen.manifest.name}", config={"scorer": "t", "shard": f"{i}/2"},
                         inputs=[gen], tool="t", tool_version="0") as b:
            b.write_records("results.jsonl", [make_result(s) for s in samples[i::2]])
            shards.append(b.publish())
            refs[f"shard{i}"] = shards[-1].ref
    if merge:
        with store.begin(stage="score", name=gen.manifest.name, config={"scorer": "t", "shard": None, "merged_shards": 2},
                         inputs=[gen, *shards], tool="t", tool_version="0") as b:
            b.write_records("results.jsonl", [make_result(s) for s in samples])
            refs["merged"] = b.publish().ref
    return refs


def test_globs_skip_shard_outputs_unless_they_name_them(run_store: Path) -> None:
    refs = publish_sharded(run_store)
    store = RunStore(run_store)
    assert [o.ref for o in resolve_scores(store, [])] == [refs["merged"]]  # the default '*': each sample once
    assert [o.ref for o in resolve_scores(store, ["score/*"])] == [refs["merged"]]
    assert [o.ref for o in resolve_scores(store, ["score/shard*"])] == sorted([refs["shard0"], refs["shard1"]])
    assert [o.ref for o in resolve_scores(store, [refs["shard1"]])] == [refs["shard1"]]  # named explicitly


def test_shards_without_a_merged_output_are_said(run_store: Path) -> None:
    import logging

    class Keep(logging.Handler):
        def __init__(self) -> None:
            super().__init__(logging.WARNING)
            self.lines: list[str] = []

        def emit(self, record: logging.LogRecord) -> None:
            self.lines.append(record.getMessage())

    refs = publish_sharded(run_store, merge=False)
    store = RunStore(run_store)
    with pytest.raises(InvalidInputError) as e:
        resolve_scores(store, ["toy*"])
    assert "only shard outputs match 'toy*'" not in e.value.message  # 'toy*' does not match 'shard...' names at all
    with pytest.raises(InvalidInputError) as e:
        resolve_scores(store, ["*"])
    assert "only shard outputs match '*'" in e.value.message and "coderig-score merge" in e.value.one_line()
    other = scored_run(run_store, {"p0": ["passed"]}, model="other").ref
    keep = Keep()
    logging.getLogger("coderig.export").addHandler(keep)  # the CLI's setup_logging stops propagation to pytest's capture
    try:
        assert [o.ref for o in resolve_scores(store, [])] == [other]
    finally:
        logging.getLogger("coderig.export").removeHandler(keep)
    (line,) = keep.lines
    assert line.startswith("shard outputs of generate/toy-model__toy__s0/") and "no merged output" in line
    assert refs
