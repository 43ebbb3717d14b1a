"""A sweep through the whole chain: 2 models x 2 temperatures x 2 splits x 3 seeds = 24 runs, 8 configurations.

generate (replay engine: 'reference' replays MBPP's solutions, 'alpha' a file of answers, right on one problem
only) -> score (the real sandbox) -> analyze -> export. Before run identities, the 24 runs were 4 names with
6 versions each: a glob analyzed 4 of them. Now every run is its own name, and the report's tables, the CSVs
and the workbook's sheets list every run and every configuration exactly once, each with its settings label.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from coderig_analyze.cli import main as analyze_main
from coderig_export.cli import main as export_main
from coderig_generate.cli import main as generate_main
from coderig_schemas import Manifest, RunIdentity
from coderig_score.cli import main as score_main

MODELS = ("reference", "alpha")
TEMPERATURES = (0.2, 0.8)
SPLITS = ("test", "validation")
SEEDS = (0, 1, 2)
LIMIT = 2


def _ok(main: object, args: list[str]) -> list[str]:
    r = CliRunner().invoke(main, [*args, "--quiet"])  # type: ignore[arg-type]
    assert r.exit_code == 0, f"{args}: {r.stderr}"
    return r.stdout.splitlines()


def _csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text())))


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> dict[str, object]:
    root = tmp_path_factory.mktemp("sweep")
    store = root / "runs"
    mp = pytest.MonkeyPatch()
    mp.setenv("CODERIG_RUNS", str(store))
    mp.setenv("CODERIG_DATA_DIR", str(shared_data))
    try:
        # alpha answers every problem wrongly except MBPP 11 (the first test problem), whose solution it knows
        answers = root / "alpha.jsonl"
        answers.write_text("".join(json.dumps({"mbpp_id": i, "code": "def nothing():\n    return None\n"}) + "\n"
                                   for i in range(1, 1001) if i != 11)
                           + json.dumps({"mbpp_id": 11, "code": _mbpp_11(shared_data)}) + "\n")
        generated: list[str] = []
        for model in MODELS:
            engine = ["--engine", "replay"] + ([] if model == "reference" else ["--replay-file", str(answers)])
            for temperature in TEMPERATURES:
                for split in SPLITS:
                    generated += _ok(generate_main, ["run", "--model", model, "--dataset", "mbpp", "--split", split,
                                                     "--seeds", ",".join(map(str, SEEDS)), "--temperature", str(temperature),
                                                     "--limit", str(LIMIT), *engine])
        scored = [_ok(score_main, ["run", "--generate", g, "--workers", "1", "--no-calibrate"])[0] for g in generated]
        [analysis] = _ok(analyze_main, ["run", "score/*", "--name", "sweep"])
        [workbook] = _ok(export_main, ["xlsx", "score/*", "--name", "sweep__results"])
        return {"store": store, "generated": generated, "scored": scored, "analysis": Path(analysis), "workbook": Path(workbook)}
    finally:
        mp.undo()


def _mbpp_11(shared_data: Path) -> str:
    from coderig_generate.datasets import load_problems

    mp = pytest.MonkeyPatch()
    mp.setenv("CODERIG_DATA_DIR", str(shared_data))
    try:
        problems = load_problems("mbpp", split="test")
    finally:
        mp.undo()
    solution = next(p.reference_solution for p in problems if p.problem_id == "mbpp/11")
    assert solution
    return solution


def test_every_run_of_the_sweep_is_its_own_name_with_a_typed_identity(sweep: dict[str, object]) -> None:
    generated = [Path(p) for p in sweep["generated"]]  # type: ignore[attr-defined]
    assert len(generated) == len(set(generated)) == 24
    names = {p.parent.name for p in generated}
    assert len(names) == 24  # distinct names, not versions of one name
    identities = [Manifest.model_validate_json((p / "manifest.json").read_text()).identity for p in generated]
    assert all(isinstance(i, RunIdentity) and not i.derived for i in identities)
    keys = {(i.model, i.split, i.temperature, i.seed) for i in identities if i is not None}
    assert len(keys) == 24
    assert {i.config_id for i in identities if i is not None}.__len__() == 8
    for p, i in zip(generated, identities, strict=True):
        assert i is not None and p.parent.name == i.name()


def test_analysis_counts_each_run_once_and_labels_every_configuration(sweep: dict[str, object]) -> None:
    out = sweep["analysis"]
    assert isinstance(out, Path)
    analysis = json.loads((out / "analysis.json").read_text())
    refs = [r["summary"]["run_ref"] for r in analysis["runs"]]
    assert {r.split("/")[1] for r in refs} == {Path(p).parent.name for p in sweep["scored"]}  # type: ignore[attr-defined]
    assert len(refs) == len(set(refs)) == 24
    assert analysis["issues"] == []
    groups = analysis["seed_analysis"]
    assert len(groups) == 8 and all(g["runs"] == 3 and sorted(g["seeds"]) == [0, 1, 2] for g in groups)
    labels = {g["config"]["config_id"]: g["config"]["label"] for g in groups}
    assert len(labels) == 8 and all(label.startswith(("T=0.2 ", "T=0.8 ")) for label in labels.values())
    # the matrix: one column per split of MBPP (never pooled), one cell per model, each named by its settings
    matrix = analysis["matrix"]
    assert matrix["datasets"] == ["mbpp/test", "mbpp/validation"] and sorted(matrix["models"]) == ["alpha", "reference"]
    assert len(matrix["cells"]) == 4 and all(c["label"] and c["runs"] == 3 for c in matrix["cells"])
    assert all(c["pass_rate"]["method"] == "bootstrap over problems, 3 seeds" for c in matrix["cells"])

    runs_csv = _csv(out / "runs.csv")
    assert len(runs_csv) == 24 and len({r["run_ref"] for r in runs_csv}) == 24 and all(r["label"] for r in runs_csv)
    seeds_csv = _csv(out / "seed_analysis.csv")
    assert len(seeds_csv) == 24 and all(r["label"] for r in seeds_csv)
    configs_csv = _csv(out / "config_analysis.csv")
    assert len(configs_csv) == 8 and len({r["config_id"] for r in configs_csv}) == 8
    assert {r["config_id"]: r["label"] for r in configs_csv} == labels

    report = (out / "report.md").read_text()
    runs_table = _section(report, "Runs")
    rows = [line for line in runs_table if line.startswith("| ") and not line.startswith("| run ")]
    assert len(rows) == 24
    assert Counter(row.split(" | ")[0] for row in rows).most_common(1)[0][1] == 1  # each run once, by its own name
    for config_id, label in labels.items():
        assert sum(f" / {label} / s" in row and f"| {config_id} |" in row for row in rows) == 3  # each configuration's seeds
    spread = [line for line in _section(report, "Spread across seeds") if line.startswith("| ") and not line.startswith("| model ")]
    assert len(spread) == 8 and all(any(f"{label} ({cid})" in row for cid, label in labels.items()) for row in spread)
    assert "bootstrap over problems" in report  # the matrix names its interval


def _section(report: str, title: str) -> list[str]:
    lines = report.splitlines()
    start = lines.index(f"## {title}")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    return lines[start + 1:end]


def test_workbook_lists_every_run_and_configuration_once_with_labels(sweep: dict[str, object]) -> None:
    from openpyxl import load_workbook

    out = sweep["workbook"]
    assert isinstance(out, Path)
    wb = load_workbook(out / "results.xlsx", read_only=True)
    summary = list(wb["Summary"].iter_rows(values_only=True))
    head = list(summary[0])
    every = [dict(zip(head, row, strict=False)) for row in summary[1:] if row[head.index("difficulty")] == "all"]
    assert len(every) == 8
    assert len({(r["model"], r["split"], r["config_id"]) for r in every}) == 8
    assert all(r["config"] and r["runs"] == 3 for r in every)
    runs = list(wb["Runs"].iter_rows(values_only=True))
    head = list(runs[0])
    per_run = [dict(zip(head, row, strict=False)) for row in runs[1:] if row[head.index("difficulty")] == "all"]
    assert len(per_run) == 24 and len({r["run"] for r in per_run}) == 24 and all(r["config"] for r in per_run)
    compare = next(wb["Compare"].iter_rows(values_only=True))
    assert len(compare) == 3 + 24 and len(set(compare[3:])) == 24
