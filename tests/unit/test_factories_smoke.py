"""The shared test factories publish outputs that read back through the store."""

from pathlib import Path

from coderig_schemas import RunStore, ScoreResult
from coderig_schemas.layout import RESULTS
from tests.factories import scored_run


def test_scored_run_reads_back(run_store: Path) -> None:
    out = scored_run(run_store, {"p1": ["passed", "wrong_answer"], "p2": ["timeout"]}, difficulties={"p1": "easy"})
    again = RunStore(run_store).resolve(out.ref, stage="score")
    results = list(again.records(RESULTS, ScoreResult))
    assert [r.verdict.value for r in results] == ["passed", "wrong_answer", "timeout"]
    assert results[0].difficulty is not None and results[0].difficulty.value == "easy"
    assert again.manifest.inputs[0].ref.startswith("generate/toy-model__toy__s0/")
