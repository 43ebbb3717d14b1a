"""coderig-analyze's command-line contract: exit codes, stdout (machine output only) vs stderr."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from coderig_analyze.cli import main
from coderig_schemas import PublishedOutput, RunStore
from coderig_schemas.analysis import Analysis, PairedComparison
from coderig_schemas.layout import RESULTS
from tests.factories import make_problem, make_result, make_sample, publish_generate, publish_score, scored_run

FAST = ["--bootstrap", "50", "--no-charts", "--quiet"]


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, list(args))


def err(result) -> str:  # type: ignore[no-untyped-def]
    """stderr with rich's line wrapping undone."""
    return " ".join(result.stderr.split())


def load_analysis(stdout: str) -> Analysis:
    return Analysis.model_validate_json((Path(stdout.strip()) / "analysis.json").read_text())


def test_run_prints_only_the_output_path(two_models: dict[tuple[str, int], PublishedOutput]) -> None:
    r = invoke("run", "score/*", "--bootstrap", "50")
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 1 and (Path(lines[0]) / "manifest.json").is_file()
    assert "analyzed 4 run(s)" in err(r)  # the log goes to stderr
    again = invoke("run", "score/*", "--bootstrap", "50")
    assert again.exit_code == 0 and again.stdout == r.stdout  # unchanged inputs: the same output, nothing rebuilt


def test_run_json(two_models: dict[tuple[str, int], PublishedOutput]) -> None:
    r = invoke("run", "alpha__toy__s0", "score/beta__toy__s0", "--json", *FAST)
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["runs"] == 2 and doc["issues"] == [] and doc["ref"].startswith("analyze/analysis/")
    assert doc["existing"] is False and doc["reused"] is False
    assert r.stderr == ""  # --quiet
    again = json.loads(invoke("run", "alpha__toy__s0", "score/beta__toy__s0", "--json", *FAST).stdout)
    assert again["existing"] is True and again["reused"] is True  # 'existing' as generate and export say; 'reused' kept


def test_usage_errors_exit_2() -> None:
    r = invoke("run")
    assert r.exit_code == 2 and r.stdout == "" and "REFS" in err(r)
    r = invoke("run", "x", "--bootstrap", "0")
    assert r.exit_code == 2 and "--bootstrap" in err(r)


def test_a_bad_output_name_is_a_usage_error(two_models: dict[tuple[str, int], PublishedOutput], tmp_path: Path) -> None:
    r = invoke("run", "score/*", "--name", "bad name", *FAST)
    assert r.exit_code == 2 and r.stdout == ""
    assert "--name" in err(r) and "invalid output name 'bad name'" in err(r) and "no '/' or spaces" in err(r)
    # Without --name the category names the output: one that cannot is a usage error pointing at --name.
    cats = tmp_path / "cats.yaml"
    cats.write_text("categories:\n  'two words':\n    models: [alpha]\n    datasets: [toy]\n")
    r = invoke("run", "--category", "two words", "--categories-file", str(cats), *FAST)
    assert r.exit_code == 2 and "--category 'two words' cannot name the output" in err(r) and "--name" in err(r)
    r = invoke("run", "--category", "two words", "--categories-file", str(cats), "--name", "two-words", *FAST)
    assert r.exit_code == 0, r.stderr


def test_nothing_to_analyze_exits_3(two_models: dict[tuple[str, int], PublishedOutput]) -> None:
    r = invoke("run", "nomatch*", *FAST)
    assert r.exit_code == 3 and r.stdout == ""
    assert "nothing to analyze" in err(r)
    other = two_models[("alpha", 0)].path.parents[2]  # the store the fixture filled, given with --runs instead of ./runs
    r = invoke("run", "nomatch*", "--runs", str(other), *FAST)
    assert f"ls {other / 'score'}" in r.stderr.replace("\n", "") and "'ls runs/score'" not in err(r)
    r = invoke("run", "score/absent", *FAST)
    assert r.exit_code == 3 and "no published output score/absent" in err(r)


def test_reference_timings_named_explicitly_are_refused(two_models: dict[tuple[str, int], PublishedOutput], run_store: Path) -> None:
    from coderig_schemas.layout import REFERENCE_TIMINGS

    gen = RunStore(run_store).resolve(two_models[("alpha", 0)].manifest.inputs[0].ref)
    with RunStore(run_store).begin(stage="score", name="reftimes__toy", config={"kind": "reference-timings"}, inputs=[gen],
                                   tool="t", tool_version="0") as b:
        b.write_bytes(REFERENCE_TIMINGS, b"")
        b.publish()
    for args in (["run", "score/reftimes__toy", *FAST], ["compare", "score/reftimes__toy", two_models[("alpha", 0)].ref]):
        r = invoke(*args)
        assert r.exit_code == 3 and r.stdout == "", args
        assert "score/reftimes__toy/" in err(r) and "holds the scorer's reference timings (reference_timings.jsonl), not results" in err(r)


def test_tampered_results_exit_3(two_models: dict[tuple[str, int], PublishedOutput]) -> None:
    out = two_models[("alpha", 0)]
    with open(out.path / RESULTS, "a") as f:
        f.write("\n")
    r = invoke("run", "score/*", *FAST)
    assert r.exit_code == 3 and r.stdout == "" and "does not match the manifest" in err(r)


def test_changed_file_is_reported_as_changed_even_when_also_invalid(two_models: dict[tuple[str, int], PublishedOutput]) -> None:
    path = two_models[("beta", 1)].path / RESULTS
    path.write_text(path.read_text().replace('"verdict":"wrong_answer"', '"verdict":"exploded"', 1))
    r = invoke("run", "score/*", *FAST)
    assert r.exit_code == 3 and "does not match the manifest" in err(r) and "exploded" not in err(r)


def test_invalid_record_exits_3_naming_file_and_line(run_store: Path) -> None:
    problem = make_problem("p1")
    samples = [make_sample(problem, i) for i in range(2)]
    gen = publish_generate(run_store, [problem], samples)
    good = make_result(samples[0]).model_dump_json()
    bad = json.loads(make_result(samples[1]).model_dump_json())
    bad["verdict"] = "exploded"
    store = RunStore(run_store)
    gen.path_of("samples.jsonl")
    with store.begin(stage="score", name=gen.manifest.name, config={"scorer": "x"}, inputs=[gen], tool="t", tool_version="0") as b:
        b.write_bytes(RESULTS, (good + "\n" + json.dumps(bad) + "\n").encode())
        b.publish()
    r = invoke("run", "score/*", *FAST)
    assert r.exit_code == 3
    assert f"{RESULTS}:2: verdict: Input should be" in err(r)


def test_category_reports_missing_pairs(two_models: dict[tuple[str, int], PublishedOutput], categories_file: Path) -> None:
    r = invoke("run", "--category", "toy_pair", "--categories-file", str(categories_file), "--bootstrap", "50", "--no-charts")
    assert r.exit_code == 0, r.stderr
    a = load_analysis(r.stdout)
    assert a.name == "toy_pair" and a.category == "toy_pair" and len(a.runs) == 4
    assert a.matrix.missing == ["alpha on other", "beta on other"]
    assert {i.kind for i in a.issues} == {"missing"}
    assert "no score output for model alpha on dataset other" in err(r)
    assert "Missing: alpha on other; beta on other" in (Path(r.stdout.strip()) / "report.md").read_text()


def test_category_errors(categories_file: Path) -> None:
    r = invoke("run", "--category", "nope", "--categories-file", str(categories_file), *FAST)
    assert r.exit_code == 3 and "no category 'nope'" in err(r) and "toy_pair" in err(r)
    r = invoke("run", "--category", "toy_pair", *FAST)
    assert r.exit_code == 2 and r.stdout == "" and "--category toy_pair needs --categories-file" in err(r)
    assert "CODERIG_CATEGORIES" in err(r)
    bad = categories_file.with_name("bad.yaml")
    bad.write_text("categories:\n  broken:\n    models: alpha\n    datasets: []\n")
    r = invoke("run", "--category", "broken", "--categories-file", str(bad), *FAST)
    assert r.exit_code == 3 and "categories.broken.models" in err(r)


def test_partial_unscored_and_missing_generate_are_reported_not_fatal(run_store: Path) -> None:
    problems = [make_problem(f"p{i}", difficulty="easy") for i in range(3)]
    samples = [make_sample(p, 0, model_name="gamma") for p in problems]
    gen = publish_generate(run_store, problems, samples, model="gamma")
    publish_score(run_store, gen, [make_result(s) for s in samples[:2]])  # 2 of 3 scored
    publish_generate(run_store, problems, samples, model="delta")  # never scored
    other_gen = publish_generate(run_store, problems, samples, model="omega", seed=5)
    publish_score(run_store, other_gen, [make_result(s) for s in samples])
    shutil.rmtree(other_gen.path)  # the generate output of omega is gone
    with RunStore(run_store).begin(stage="score", name="reftimes__toy", config={}, inputs=[], tool="t", tool_version="0") as b:
        b.write_bytes("reference_timings.jsonl", b"")  # not a run: globs skip it
        b.publish()
    r = invoke("run", "*", "--bootstrap", "50", "--no-charts")
    assert r.exit_code == 0, r.stderr
    a = load_analysis(r.stdout)
    kinds = {(i.kind, i.ref.split("/")[1] if i.ref else None) for i in a.issues}
    assert ("partial", "gamma__toy__s0") in kinds
    assert ("unscored", "delta__toy__s0") in kinds
    assert ("no_generate", "omega__toy__s5") in kinds
    assert len(a.runs) == 2 and not any(i.kind == "empty" for i in a.issues)
    gamma = next(x for x in a.runs if x.config.model_name == "gamma")
    assert not gamma.complete and gamma.samples_expected == 3 and gamma.summary.total_samples == 2
    omega = next(x for x in a.runs if x.summary.run_ref.startswith("score/omega"))
    assert omega.generate_ref is None and omega.summary.pass_rate == 1.0 and omega.extraction_methods == {}
    assert "2 of 3 samples scored" in err(r) and "has no score output" in err(r)
    assert "(partial)" in (Path(r.stdout.strip()) / "report.md").read_text()


def test_generate_changed_after_scoring_is_not_used(two_models: dict[tuple[str, int], PublishedOutput], run_store: Path) -> None:
    score = two_models[("alpha", 0)]
    gen = RunStore(run_store).resolve(score.manifest.inputs[0].ref)
    manifest = gen.path / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"tool": "test-factory"', '"tool": "edited"'))
    r = invoke("run", "alpha__toy__s0", "--bootstrap", "50", "--no-charts")
    assert r.exit_code == 0, r.stderr
    (run,) = load_analysis(r.stdout).runs
    assert run.generate_ref is None and run.summary.pass_rate == 0.5  # still analyzed, from the results
    assert "changed after scoring" in err(r)


def test_a_run_with_no_results_yet_is_analyzed_with_charts(run_store: Path) -> None:
    problem = make_problem("p1")
    gen = publish_generate(run_store, [problem], [make_sample(problem, 0)], model="zero")
    publish_score(run_store, gen, [])
    r = invoke("run", "*", "--bootstrap", "20", "--html")
    assert r.exit_code == 0, r.stderr
    (run,) = load_analysis(r.stdout).runs
    assert run.summary.total_samples == 0 and run.summary.pass_rate == 0.0 and not run.complete
    assert len(list(Path(r.stdout.strip()).glob("charts/*.png"))) == 4


def test_compare_prints_difference_ci_and_p(two_models: dict[tuple[str, int], PublishedOutput]) -> None:
    r = invoke("compare", "alpha__toy__s1", "beta__toy__s1", "--bootstrap", "200")
    assert r.exit_code == 0, r.stderr
    diff, low, high, p = map(float, r.stdout.split())
    assert diff == 0.5 and p == 0.5 and low <= diff <= high
    assert "McNemar p=0.5" in err(r)
    r = invoke("compare", "score/alpha__toy__s1", "score/beta__toy__s1", "--json", "--quiet")
    assert r.exit_code == 0 and r.stderr == ""
    pc = PairedComparison.model_validate_json(r.stdout)
    assert (pc.a_only, pc.b_only, pc.problems) == (2, 0, 4)


def test_compare_errors(two_models: dict[tuple[str, int], PublishedOutput], run_store: Path) -> None:
    r = invoke("compare", "alpha__toy__s1", "absent")
    assert r.exit_code == 3 and r.stdout == ""
    scored_run(run_store, {"q1": ["passed"], "q2": ["wrong_answer"]}, model="gamma")
    r = invoke("compare", "alpha__toy__s1", "gamma__toy__s0")
    assert r.exit_code == 3 and r.stdout == "" and "share no problem" in err(r)
    r = invoke("compare", "alpha__toy__s1")
    assert r.exit_code == 2


def test_help_texts() -> None:
    for cmd in (["--help"], ["run", "--help"], ["compare", "--help"]):
        r = invoke(*cmd)
        assert r.exit_code == 0 and r.stdout.strip()


def test_results_contradicting_themselves_exit_3_naming_file_and_line(run_store: Path) -> None:
    problems = [make_problem(f"p{i}") for i in range(2)]
    samples = [make_sample(p, 0, model_name="liar") for p in problems]
    gen = publish_generate(run_store, problems, samples, model="liar")
    # passed=true with a wrong answer would count as a pass. The contract model refuses to build such a
    # record, so it is forged with model_copy (no validation), as a scorer that skips the contract could.
    liar = make_result(samples[1], "wrong_answer").model_copy(update={"passed": True})
    publish_score(run_store, gen, [make_result(samples[0]), liar])
    r = invoke("run", "liar__toy__s0", *FAST)
    assert r.exit_code == 3 and r.stdout == ""
    assert f"{RESULTS}:2: passed: true contradicts verdict 'wrong_answer'" in err(r)
    assert not (run_store / "analyze").exists()  # nothing published


def test_a_sample_scored_twice_exits_3_naming_both_lines(run_store: Path) -> None:
    problems = [make_problem(f"p{i}") for i in range(2)]
    samples = [make_sample(p, 0, model_name="twice") for p in problems]
    gen = publish_generate(run_store, problems, samples, model="twice")
    # p1's sample twice: it would count as n = 2, c = 2 for p1.
    publish_score(run_store, gen, [make_result(samples[0], "wrong_answer"), make_result(samples[1]), make_result(samples[1])])
    r = invoke("run", "twice__toy__s0", *FAST)
    assert r.exit_code == 3 and r.stdout == ""
    assert f"{RESULTS}:3: sample_id: 'p1#s0#0' already scored at line 2" in err(r)
    r = invoke("compare", "twice__toy__s0", "twice__toy__s0")
    assert r.exit_code == 3 and "already scored" in err(r)


def test_compare_refuses_runs_of_different_datasets(run_store: Path) -> None:
    # humaneval and humaneval_plus share problem ids but not tests: pairing them would be wrong.
    scored_run(run_store, {"HumanEval/0": ["passed"], "HumanEval/1": ["passed"]}, model="a", dataset="humaneval")
    scored_run(run_store, {"HumanEval/0": ["wrong_answer"], "HumanEval/1": ["passed"]}, model="b", dataset="humaneval_plus")
    r = invoke("compare", "a__humaneval__s0", "b__humaneval_plus__s0")
    assert r.exit_code == 3 and r.stdout == ""
    assert "is on dataset 'humaneval' but b__humaneval_plus__s0 on 'humaneval_plus'" in err(r)


def test_compare_warns_about_problems_left_out(run_store: Path) -> None:
    scored_run(run_store, {"p1": ["passed"], "p2": ["wrong_answer"], "p3": ["passed"]}, model="a")
    scored_run(run_store, {"p1": ["wrong_answer"], "p2": ["passed"]}, model="b")
    r = invoke("compare", "a__toy__s0", "b__toy__s0", "--bootstrap", "50")
    assert r.exit_code == 0 and r.stdout.split()[-1] == "1"  # one discordant pair each way
    assert "paired on the 2 problems both scored: 1 of A's and 0 of B's others are left out" in err(r)


def test_globs_skip_shard_outputs_next_to_their_merged_output(run_store: Path) -> None:
    problems = [make_problem(f"p{i}") for i in range(4)]
    samples = [make_sample(p) for p in problems]
    gen = publish_generate(run_store, problems, samples)
    store = RunStore(run_store)
    shards = []
    for i in range(2):
        with store.begin(stage="score", name=f"shard{i}of2__{gen.manifest.name}", config={"scorer": "t", "shard": f"{i}/2"},
                         inputs=[gen], tool="t", tool_version="0") as b:
            b.write_records(RESULTS, [make_result(s) for s in samples[i::2]])
            shards.append(b.publish())
    r = invoke("run", "score/*", *FAST)  # only shards: nothing to analyze
    assert r.exit_code == 3 and "nothing to analyze" in err(r)
    r = invoke("run", "score/shard*", "--json", *FAST)  # a glob naming shards takes them
    assert r.exit_code == 0 and json.loads(r.stdout)["runs"] == 2
    with store.begin(stage="score", name=gen.manifest.name, config={"scorer": "t", "shard": None, "merged_shards": 2},
                     inputs=[gen, *shards], tool="t", tool_version="0") as b:
        b.write_records(RESULTS, [make_result(s) for s in samples])
        merged = b.publish()
    r = invoke("run", "score/*", *FAST)
    assert r.exit_code == 0, r.stderr
    a = load_analysis(r.stdout)
    assert len(a.runs) == 1 and a.runs[0].summary.total_samples == 4 and a.issues == []  # each sample once
    assert merged.ref in (Path(r.stdout.strip()) / "runs.csv").read_text()
    other = scored_run(run_store, {"p0": ["passed"]}, model="other")
    shutil.rmtree(merged.path)  # shards left without their merged output: said, not silently dropped
    r = invoke("run", "*", *FAST)
    a = load_analysis(r.stdout)
    assert len(a.runs) == 1 and other.ref in (Path(r.stdout.strip()) / "runs.csv").read_text()
    (issue,) = [i for i in a.issues if i.ref == gen.ref]
    assert issue.kind == "unscored" and "scored only in shard outputs" in issue.message
