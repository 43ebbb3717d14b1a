"""coderig-score on IFEval and BFCL samples: dispatched to the in-process graders, no sandbox started."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from coderig_schemas import Problem, RunStore, Sample, ScoreResult
from coderig_schemas.layout import RESULTS
from coderig_score.cli import main as score_main
from tests.factories import make_bfcl_problem, make_ifeval_problem, make_sample, publish_generate

TEXT = {"extracted_code": "", "extraction_method": "not_applicable"}


def _score(run_store: Path, problems: list[Problem], samples: list[Sample], dataset: str) -> tuple[int, list[ScoreResult], str]:
    gen = publish_generate(run_store, problems, samples, dataset=dataset)
    r = CliRunner().invoke(score_main, ["run", "--generate", gen.ref, "--quiet", "--workers", "1", "--json"])
    if r.exit_code != 0:
        return r.exit_code, [], r.output
    out = RunStore(run_store).resolve(json.loads(r.stdout)["output"])
    results = list(out.records(RESULTS, ScoreResult))
    stats = out.manifest.stats
    assert "sandbox" not in stats  # nothing was executed: no sandbox was started
    return r.exit_code, results, r.output


def test_ifeval_and_bfcl_samples_are_graded(run_store: Path) -> None:
    ifp, fcp = make_ifeval_problem("if0", dataset="toymix"), make_bfcl_problem("fc0", dataset="toymix")
    samples = [
        make_sample(ifp, 0, raw_response="one two three four five six seven eight nine ten", **TEXT),
        make_sample(ifp, 1, raw_response="Sure, here:\none two three four five six seven eight nine ten", **TEXT),
        make_sample(fcp, 0, raw_response="[spotify.play(artist='Maroon 5', duration=15), spotify.play(artist='taylor swift', duration=20)]",
                    **TEXT),
        make_sample(fcp, 1, raw_response="Let me call spotify.play(artist='Maroon 5', duration=15)", **TEXT),
    ]
    code, results, output = _score(run_store, [ifp, fcp], samples, "toymix")
    assert code == 0, output
    by = {r.sample_id: r for r in results}
    assert [by[s.sample_id].verdict.value for s in samples] == ["passed", "wrong_answer", "passed", "no_answer"]
    assert by[samples[1].sample_id].loose_passed is True and by[samples[1].sample_id].loose_tests_passed == 2
    assert by[samples[2].sample_id].task_type.value == "function_calling"
    assert by[samples[2].sample_id].tests_passed == 2 and by[samples[2].sample_id].answer is not None


def test_ifeval_four_numbers_in_the_stats(run_store: Path) -> None:
    p = make_ifeval_problem("if0")
    samples = [make_sample(p, i, raw_response=text, **TEXT) for i, text in enumerate([
        "one two three four five six seven eight nine ten",             # both followed
        "Sure, here:\none two three four five six seven eight nine ten",  # comma in line 1: strict 1/2, loose 2/2
        "one, two",                                                     # comma and too short: 0/2 both
    ])]
    gen = publish_generate(run_store, [p], samples, dataset="toyif")
    r = CliRunner().invoke(score_main, ["run", "--generate", gen.ref, "--quiet", "--workers", "1", "--json"])
    assert r.exit_code == 0, r.output
    stats = RunStore(run_store).resolve(json.loads(r.stdout)["output"]).manifest.stats["ifeval"]
    assert stats["samples"] == 3 and stats["instructions"] == 6
    assert stats["prompt_level_strict_accuracy"] == 1 / 3 and stats["inst_level_strict_accuracy"] == 3 / 6
    assert stats["prompt_level_loose_accuracy"] == 2 / 3 and stats["inst_level_loose_accuracy"] == 4 / 6


def test_unknown_ifeval_instruction_is_exit_3(run_store: Path) -> None:
    p = make_ifeval_problem("if1", grading={"kind": "instruction_following", "instruction_id_list": ["nope:x", "punctuation:no_comma"],
                                            "kwargs": [{}, {}]})
    code, _, output = _score(run_store, [p], [make_sample(p, 0, raw_response="text", **TEXT)], "toyif")
    assert code == 3 and "unknown IFEval instruction id 'nope:x'" in output
