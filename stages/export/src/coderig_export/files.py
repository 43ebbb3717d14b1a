"""The fine-tuning dataset's files: their names, the formats a user may ask for, and the bytes of the
CSV, parquet and JSON files (the JSONL records are written by the run store)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence

from coderig_schemas import ChatExample, FineTuneExample
from coderig_schemas.layout import CHAT_JSONL, FINETUNE_JSONL

from .selection import Candidate

FINETUNE_CSV = "finetune.csv"
FINETUNE_PARQUET = "finetune.parquet"
CHAT_PARQUET = "chat.parquet"
SUMMARY_CSV = "datasets_summary.csv"
CARD = "README.md"
LLAMA_FACTORY_INFO = "dataset_info.json"

#: Formats a user may ask for; the dataset card, the summary and LLaMA-Factory's dataset_info.json are always written.
FORMATS: tuple[str, ...] = ("jsonl", "chat", "csv", "parquet")
DEFAULT_FORMATS: tuple[str, ...] = ("jsonl", "chat", "csv")

#: Columns of finetune.csv, in order.
CSV_COLUMNS: tuple[str, ...] = ("problem_id", "prompt", "response", "difficulty", "passed", "run_id")


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    """RFC 4180 CSV (UTF-8, CRLF line ends, quoted where needed); None becomes an empty cell."""
    buf = io.StringIO(newline="")
    writer = csv.writer(buf)
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    return buf.getvalue().encode()


def finetune_csv(candidates: Iterable[Candidate]) -> bytes:
    """finetune.csv: one row per example with CSV_COLUMNS."""
    return csv_bytes(CSV_COLUMNS, ((c.problem_id, c.instruction, c.code, c.difficulty, c.passed, c.run_id) for c in candidates))


def parquet_bytes(records: Sequence[FineTuneExample] | Sequence[ChatExample], model: type[FineTuneExample] | type[ChatExample]) -> bytes:
    """The records of model as one parquet file (nested messages stay nested).

    The column types are fixed rather than inferred: an empty export still has its columns, and a
    set whose difficulties are all unknown still has a string ``difficulty`` column.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    types = {
        "schema_version": pa.int64(), "instruction": pa.string(), "input": pa.string(), "output": pa.string(),
        "difficulty": pa.string(), "id": pa.string(), "run_id": pa.string(),
        "dataset": pa.string(), "problem_id": pa.string(), "task_id": pa.string(),
        "messages": pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())])),
    }
    schema = pa.schema([(name, types[name]) for name in model.model_fields])
    table = pa.Table.from_pylist([r.model_dump(mode="json") for r in records], schema=schema)
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def llama_factory_info(name: str, files: Sequence[str]) -> dict[str, object]:
    """LLaMA-Factory's dataset_info.json entries for the written JSONL files (alpaca and sharegpt/messages)."""
    info: dict[str, object] = {}
    if FINETUNE_JSONL in files:
        info[f"{name}_instruction"] = {
            "file_name": FINETUNE_JSONL, "formatting": "alpaca",
            "columns": {"prompt": "instruction", "query": "input", "response": "output"},
        }
    if CHAT_JSONL in files:
        info[f"{name}_chat"] = {
            "file_name": CHAT_JSONL, "formatting": "sharegpt",
            "columns": {"messages": "messages"},
            "tags": {
                "role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant", "system_tag": "system",
            },
        }
    return info


def pretty_json(obj: object) -> bytes:
    """Indented JSON bytes with a final newline."""
    return (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode()
