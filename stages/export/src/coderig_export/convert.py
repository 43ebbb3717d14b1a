"""Convert a run's JSONL or parquet record file to CSV or parquet (nested fields become JSON text)."""

from __future__ import annotations

import csv
import errno
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from coderig_schemas import CoderigError, ConflictError, InvalidInputError
from coderig_schemas.io import iter_jsonl, iter_jsonl_objects
from coderig_schemas.registry import SCHEMAS
from coderig_schemas.store import MANIFEST, open_output

_BATCH = 4096


def _cell(value: Any) -> Any:
    """A CSV cell: nested lists and dicts as compact JSON, None as empty."""
    if value is None:
        return ""
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return value


def schema_of(path: Path) -> type[BaseModel] | None:
    """The contract model of a file inside a published output, from its manifest entry (and check its sha256)."""
    parent = path.parent
    while parent != parent.parent and not (parent / MANIFEST).is_file():
        parent = parent.parent
    if not (parent / MANIFEST).is_file():
        return None
    out = open_output(parent)
    rel = path.relative_to(parent).as_posix()
    if not out.has(rel):
        return None
    out.path_of(rel)  # verifies the sha256: a converted file is the one the manifest vouches for
    name = out.entry(rel).schema_name or _schema_by_filename(rel)
    return SCHEMAS.get(name) if name else None


def _schema_by_filename(rel: str) -> str | None:
    from coderig_schemas import layout

    names = {layout.PROBLEMS: "problem", layout.SAMPLES: "sample", layout.RESULTS: "score_result",
             layout.REFERENCE_TIMINGS: "reference_timing", layout.SUMMARIES: "analysis_summary",
             layout.FINETUNE_JSONL: "finetune_example", layout.CHAT_JSONL: "chat_example"}
    return names.get(Path(rel).name)


def iter_jsonl_dicts(path: Path, model: type[BaseModel] | None) -> Iterator[dict[str, Any]]:
    """Each line of a JSONL file as a dict, validated against model when one is known; errors say file:line."""
    if model is None:
        yield from (record.obj for record in iter_jsonl_objects(path))
    else:
        yield from (record.model_dump(mode="json") for record in iter_jsonl(path, model))


def iter_parquet_dicts(path: Path) -> Iterator[dict[str, Any]]:
    """Rows of a parquet file as dicts, read in batches."""
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as e:  # pyarrow raises several types for a file that is not parquet
        raise InvalidInputError(f"{path}: not a readable parquet file ({e})", hint="convert a .parquet or .jsonl file") from None
    for batch in pf.iter_batches(batch_size=_BATCH):
        yield from batch.to_pylist()


def rows_of(path: Path) -> Iterator[dict[str, Any]]:
    """The records of a .jsonl or .parquet file."""
    if not path.is_file():
        raise InvalidInputError(f"{path}: file not found", hint="give the path of a .jsonl or .parquet file")
    if path.suffix == ".parquet":
        schema_of(path)  # inside a published output: checks the sha256 (parquet is typed, no records to validate)
        return iter_parquet_dicts(path)
    if path.suffix in (".jsonl", ".json"):
        return iter_jsonl_dicts(path, schema_of(path))
    raise InvalidInputError(f"{path}: unknown file type {path.suffix!r}", hint="convert a .jsonl or .parquet file")


def to_csv(src: Path, dest: Path) -> int:
    """Write src's records to dest as CSV; return the number of rows.

    Columns are every key met, in order of first appearance (a first pass collects them, so
    records with optional keys line up). The caller writes ``dest`` in a temporary place.
    """
    columns: dict[str, None] = {}
    for row in rows_of(src):
        columns.update(dict.fromkeys(row))
    n = 0
    with open(dest, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(columns), restval="")
        writer.writeheader()
        for row in rows_of(src):
            writer.writerow({k: _cell(v) for k, v in row.items()})
            n += 1
        f.flush()
        os.fsync(f.fileno())
    return n


def _column_type(kinds: set[type]) -> Any:
    """The parquet type of a column from the Python types of its non-null cells: a number stays a number."""
    import pyarrow as pa

    if kinds == {bool}:
        return pa.bool_()
    if kinds and kinds <= {int}:
        return pa.int64()
    if kinds and kinds <= {int, float}:
        return pa.float64()
    return pa.string()  # text, nested values as JSON text, a column mixing types, or only nulls


def _typed(value: Any, kind: Any) -> Any:
    import pyarrow as pa

    if value is None:
        return None
    cell = _cell(value)
    if kind == pa.string() and not isinstance(cell, str):
        return str(cell)  # as the CSV writes it
    return cell


def to_parquet(src: Path, dest: Path) -> int:
    """Write src's records to dest as parquet, with the same columns and cells as :func:`to_csv`; return the rows.

    Columns are typed from what they hold (integers, floats, booleans; text otherwise), nulls stay null,
    and nested fields are JSON text, so the parquet and the CSV of one file hold the same table.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    kinds: dict[str, set[type]] = {}
    for row in rows_of(src):
        for k, v in row.items():
            seen = kinds.setdefault(k, set())
            if v is not None:
                seen.add(str if isinstance(v, dict | list | tuple) else type(v))
    schema = pa.schema([(k, _column_type(v)) for k, v in kinds.items()])
    n = 0
    with pq.ParquetWriter(dest, schema) as writer:
        batch: list[dict[str, Any]] = []
        for row in rows_of(src):
            batch.append({f.name: _typed(row.get(f.name), f.type) for f in schema})
            if len(batch) == _BATCH:
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                n, batch = n + len(batch), []
        if batch or not n:
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))
            n += len(batch)
    with open(dest, "rb+") as f:
        os.fsync(f.fileno())
    return n


#: errno values of a file system that refuses: said in one line with a hint that fits convert (it has no --runs).
_REFUSED = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM})


def convert_file(src: Path, dest: Path, force: bool, to: str = "csv") -> int:
    """Write src's records to dest as CSV (or parquet), atomically (temp file in dest's directory, then rename); return the rows written.

    An existing dest is a conflict unless force. A file system that refuses to write dest (read-only,
    full, no permission) is one line suggesting --output, not the run store options of other commands.
    """
    if dest.exists() and not force:
        raise ConflictError(f"{dest} exists", hint="use --force to replace it or --output to write elsewhere")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
        os.close(fd)
        try:
            n = to_parquet(src, Path(tmp)) if to == "parquet" else to_csv(src, Path(tmp))
            os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as e:
        if e.errno not in _REFUSED:
            raise
        if e.filename is not None and Path(e.filename).absolute() == src.absolute():
            raise CoderigError(f"{src}: {e.strerror}", hint="make the file readable") from None
        hint = "free some space" if e.errno in (errno.ENOSPC, errno.EDQUOT) else "make that directory writable"
        raise CoderigError(f"{dest}: cannot write ({e.strerror})", hint=f"{hint}, or write elsewhere with --output PATH") from None
    return n
