"""coderig-export convert: a run's JSONL or parquet record file to CSV."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result

from coderig_export.cli import main
from coderig_schemas import ScoreResult
from coderig_schemas.io import read_jsonl
from coderig_schemas.layout import RESULTS, SAMPLES
from tests.fixtures.export import ExportStore


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_results_jsonl_to_csv(export_store: ExportStore, tmp_path: Path) -> None:
    dest = tmp_path / "out" / "results.csv"
    result = invoke("convert", str(export_store.toy.path / RESULTS), "--output", str(dest))
    assert result.exit_code == 0 and result.stdout == f"{dest}\n"
    df = pd.read_csv(dest, keep_default_na=False)
    want = read_jsonl(export_store.toy.path / RESULTS, ScoreResult)
    assert list(df.columns) == list(ScoreResult.model_fields)
    assert list(df["sample_id"]) == [r.sample_id for r in want]
    assert list(df["tests_passed"]) == [r.tests_passed for r in want]
    assert list(df["passed"]) == [r.passed for r in want]
    assert [json.loads(t) for t in df["tests"]] == [[t.model_dump(mode="json") for t in r.tests] for r in want]
    assert list(df["exception_type"]) == [r.exception_type or "" for r in want]


def test_default_destination_is_the_current_directory_and_no_overwrite(export_store: ExportStore, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    src = export_store.toy.manifest.inputs[0].ref
    samples = export_store.root / src / SAMPLES
    first = invoke("convert", str(samples))
    assert first.exit_code == 0 and first.stdout == f"{tmp_path / 'samples.csv'}\n"
    again = invoke("convert", str(samples))
    assert again.exit_code == 4 and again.stdout == "" and "--force" in again.stderr
    assert invoke("convert", str(samples), "--force").exit_code == 0


def test_parquet_to_csv(tmp_path: Path) -> None:
    src = tmp_path / "t.parquet"
    pq.write_table(pa.Table.from_pylist([{"a": 1, "b": [1, 2], "c": None}, {"a": 2, "b": [], "c": "x"}]), src)
    dest = tmp_path / "t.csv"
    assert invoke("convert", str(src), "-o", str(dest)).exit_code == 0
    assert dest.read_text().splitlines() == ["a,b,c", '1,"[1,2]",', "2,[],x"]


def test_plain_jsonl_outside_the_store_with_optional_keys(tmp_path: Path) -> None:
    src = tmp_path / "legacy.jsonl"
    src.write_text('{"mbpp_id": 11, "response": "a,b"}\n\n{"mbpp_id": 12, "extra": {"k": 1}}\n')
    dest = tmp_path / "legacy.csv"
    assert invoke("convert", str(src), "-o", str(dest)).exit_code == 0
    assert dest.read_text().splitlines() == ["mbpp_id,response,extra", '11,"a,b",', '12,,"{""k"":1}"']


@pytest.mark.parametrize(("content", "needle"), [
    ('{"a": 1}\nnot json\n', "bad.jsonl:2: not JSON"),
    ('[1, 2]\n', "bad.jsonl:1: a JSON list, not an object"),
])
def test_bad_input_names_file_and_line(tmp_path: Path, content: str, needle: str) -> None:
    src = tmp_path / "bad.jsonl"
    src.write_text(content)
    result = invoke("convert", str(src), "-o", str(tmp_path / "bad.csv"))
    assert result.exit_code == 3 and needle in result.stderr
    assert not (tmp_path / "bad.csv").exists() and not list(tmp_path.glob(".bad.csv.*"))


def test_a_store_file_is_hash_checked_and_validated(export_store: ExportStore, tmp_path: Path) -> None:
    results = export_store.toy.path / RESULTS
    results.write_bytes(results.read_bytes() + b"\n")
    result = invoke("convert", str(results), "-o", str(tmp_path / "r.csv"))
    assert result.exit_code == 3 and "does not match the manifest" in result.stderr


def test_a_finetune_parquet_converts_and_is_hash_checked(export_store: ExportStore, tmp_path: Path) -> None:
    result = invoke("finetune", "--quiet", "--mix", "all", "--formats", "jsonl,parquet")
    out = Path(result.stdout.strip())
    dest = tmp_path / "ft.csv"
    assert invoke("convert", str(out / "finetune.parquet"), "-o", str(dest)).exit_code == 0
    jsonl = tmp_path / "ftj.csv"
    assert invoke("convert", str(out / "finetune.jsonl"), "-o", str(jsonl)).exit_code == 0
    assert dest.read_text() == jsonl.read_text()  # the same records, whichever file they come from
    (out / "finetune.parquet").write_bytes((out / "finetune.parquet").read_bytes() + b"x")
    bad = invoke("convert", str(out / "finetune.parquet"), "-o", str(tmp_path / "x.csv"))
    assert bad.exit_code == 3 and "does not match the manifest" in bad.stderr


def test_unknown_type_and_missing_file(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("hi")
    assert invoke("convert", str(tmp_path / "x.txt")).exit_code == 3
    assert invoke("convert", str(tmp_path / "nope.jsonl")).exit_code == 3


def test_a_read_only_destination_suggests_output_not_the_run_store(export_store: ExportStore, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import errno
    import tempfile

    def read_only(*args: object, **kwargs: object) -> tuple[int, str]:
        raise OSError(errno.EROFS, "Read-only file system", str(tmp_path / "ro" / ".x.csv.tmp"))

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    result = invoke("convert", str(export_store.toy.path / RESULTS), "-o", str(tmp_path / "ro" / "x.csv"))
    text = " ".join(result.stderr.split())
    assert result.exit_code == 1 and result.stdout == ""
    assert f"{tmp_path / 'ro' / 'x.csv'}: cannot write (Read-only file system)" in text and "--output PATH" in text
    assert "--runs" not in text and "CODERIG_RUNS" not in text
