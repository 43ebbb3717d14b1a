"""Atomic writes, hashing and validated JSON and JSONL reading (the one JSON-lines reader of every stage).

Every JSONL file coderig reads goes through :func:`jsonl_lines`: blank lines skipped, lines split on
``\n`` only (``str.splitlines`` would also break at U+2028, U+2029 and U+0085, which JSON strings may
hold unescaped), ``.gz`` read transparently, and every problem reported as ``file:line: problem`` with
a hint. :func:`iter_jsonl` validates each line as a contract model; :func:`iter_jsonl_objects` gives
plain JSON objects to readers of other tools' files (datasets, replay files, conversions).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Generator, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from .errors import InvalidInputError

M = TypeVar("M", bound=BaseModel)

_CHUNK = 1 << 20


def sha256_bytes(data: bytes) -> str:
    """sha256 hex digest of bytes."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """sha256 hex digest of a file's bytes, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no whitespace: the form that is hashed."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def hash_json(obj: Any) -> str:
    """sha256 of the canonical JSON of obj."""
    return sha256_bytes(canonical_json(obj).encode())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write data to path atomically: temp file in the same directory, fsync, rename.

    The target is either the old content or the new one, never a torn mix; the temp file is
    removed if anything fails.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp creates 0600; published files must be readable by the other stages' (non-root) users.
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(path.parent)


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temp path beside path for a writer that needs a file name (a zip, parquet); renamed onto path on success.

    Like :func:`atomic_write_bytes`: the temp file lives in the same directory (the rename is atomic),
    is fsynced before the rename, and is removed if the writer fails; path is never written in place.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; published files must be readable by the other stages' users
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str) -> None:
    """Atomic write of UTF-8 text."""
    atomic_write_bytes(path, text.encode())


def atomic_write_json(path: Path, obj: Any) -> None:
    """Atomic write of pretty JSON (a model is dumped in JSON mode)."""
    if isinstance(obj, BaseModel):
        text = obj.model_dump_json(indent=2)
    else:
        text = json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False, default=str)
    atomic_write_text(path, text + "\n")


def dump_jsonl(records: Iterable[BaseModel]) -> bytes:
    """Serialize models as JSONL bytes (one compact JSON document per line)."""
    return b"".join(r.model_dump_json().encode() + b"\n" for r in records)


_JSON_AT_LINE = re.compile(r"at line (\d+) column \d+")


def format_validation_error(path: Path | str, line: int, err: ValidationError) -> str:
    """'file:line: field: problem' for the first error of a ValidationError.

    line is where the document starts; a JSON syntax error further into a multi-line document (a
    pretty-printed .json file) is reported on its own line.
    """
    first = err.errors()[0]
    if first["type"] == "json_invalid" and (m := _JSON_AT_LINE.search(first["msg"])):
        line += int(m.group(1)) - 1
    loc = ".".join(str(p) for p in first["loc"]) or "<record>"
    more = f" (and {err.error_count() - 1} more)" if err.error_count() > 1 else ""
    return f"{path}:{line}: {loc}: {first['msg']}{more}"


def jsonl_lines(path: Path, *, missing_hint: str = "check the path or run the upstream stage") -> Iterator[tuple[int, bytes]]:
    """(line number, bytes) of each non-blank line of a JSONL file (``.gz``: decompressed), numbered from 1.

    A missing file, or one that cannot be read (a damaged ``.gz``), is an InvalidInputError.
    """
    if not path.is_file():
        raise InvalidInputError(f"{path}: file not found", hint=missing_hint)
    opener: Any = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            for lineno, raw in enumerate(f, start=1):
                if raw.strip():
                    yield lineno, raw
    except (OSError, EOFError) as e:
        raise InvalidInputError(f"{path}: cannot read: {e}", hint="pass a readable .jsonl or .jsonl.gz file") from None


@dataclass(frozen=True)
class JsonlObject:
    """One line of a JSONL file holding a JSON object: where it is, its bytes and the object."""

    path: Path
    line: int
    raw: bytes
    obj: dict[str, Any]

    @property
    def where(self) -> str:
        """'file:line', the start of every error message about this record."""
        return f"{self.path}:{self.line}"


def parse_json_object(raw: bytes | str, where: str, *, hint: str = "each line must be one JSON object") -> dict[str, Any]:
    """One JSON object; anything else is an InvalidInputError starting with ``where`` ('file:line')."""
    try:
        obj = json.loads(raw)
    except ValueError as e:  # JSONDecodeError, or UnicodeDecodeError for bytes that are not UTF-8
        msg = e.msg if isinstance(e, json.JSONDecodeError) else str(e)
        raise InvalidInputError(f"{where}: not JSON: {msg}", hint=hint) from None
    if not isinstance(obj, dict):
        name = {list: "list", str: "string", bool: "boolean", type(None): "null"}.get(type(obj), "number")
        raise InvalidInputError(f"{where}: a JSON {name}, not an object", hint=hint)
    return obj


def iter_jsonl_objects(path: Path, *, missing_hint: str = "check the path", hint: str = "each line must be one JSON object",
                       ) -> Generator[JsonlObject, None, None]:
    """Each non-blank line of a JSONL file as a JSON object, with its place; a line that is not one is an
    InvalidInputError naming 'file:line'."""
    for lineno, raw in jsonl_lines(path, missing_hint=missing_hint):
        yield JsonlObject(path, lineno, raw, parse_json_object(raw, f"{path}:{lineno}", hint=hint))


def parse_json_document(text: str | bytes, path: Path | str, *, hint: str = "fix the file") -> Any:
    """A whole JSON document (a .json file's text); a syntax error is an InvalidInputError at its 'file:line'."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise InvalidInputError(f"{path}:{e.lineno}: not JSON: {e.msg}", hint=hint) from None


def iter_jsonl(path: Path, model: type[M]) -> Iterator[M]:
    """Yield each line of a JSONL file validated as model.

    Raises InvalidInputError naming 'file:line: field: problem' on the first bad line.
    Blank lines are skipped.
    """
    for lineno, raw in jsonl_lines(path):
        try:
            yield model.model_validate_json(raw)
        except ValidationError as e:
            raise InvalidInputError(
                format_validation_error(path, lineno, e),
                hint=f"fix or regenerate the file; each line must be a {model.__name__} record",
            ) from None


def read_jsonl(path: Path, model: type[M]) -> list[M]:
    """Read and validate a whole JSONL file."""
    return list(iter_jsonl(path, model))


def read_json(path: Path, model: type[M]) -> M:
    """Read and validate one JSON document."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InvalidInputError(f"{path}: file not found", hint="check the path") from None
    try:
        return model.model_validate_json(raw)
    except ValidationError as e:
        raise InvalidInputError(format_validation_error(path, 1, e), hint=f"the file must be a {model.__name__}") from None


def count_lines(path: Path) -> int:
    """Number of non-blank lines of a text file."""
    with open(path, "rb") as f:
        return sum(1 for raw in f if raw.strip())
