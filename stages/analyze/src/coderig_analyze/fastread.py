"""Validated, columnar reading of big JSONL record files.

Reading a million ``ScoreResult`` lines with ``model_validate_json`` one by one costs about 12 s
before a single column is extracted. This module validates the same records against the same
contract, but column-wise: the pydantic model's JSON Schema is turned into an explicit pyarrow
schema (so pyarrow's JSON parser rejects wrong types and unknown fields) plus vectorized checks
for what types cannot say (required values, enums, bounds, constants, explicit nulls).

Whenever the fast path finds a problem, or meets a schema construct it does not cover, the file
is read again line by line with pydantic, which stays the authority: its ``file:line: field:
problem`` message is what the user sees, and a record it accepts is never rejected.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj
from pydantic import BaseModel, ValidationError

from coderig_schemas.io import iter_jsonl, sha256_file

log = logging.getLogger("coderig.analyze")

#: Bytes of JSONL parsed at once: bounds memory whatever the file size.
CHUNK_BYTES = 32 << 20
BLOCK_BYTES = 1 << 20


class Unsupported(Exception):
    """The schema uses a construct the fast path does not translate (the caller uses pydantic)."""


class Mismatch(Exception):
    """A chunk failed a fast check; pydantic will find and name the bad line."""


@dataclass(frozen=True)
class Check:
    """One vectorized check of one column (path of field names; '[]' steps into a list)."""

    path: tuple[str, ...]
    kind: str  # 'required', 'enum', 'const', 'ge', 'gt', 'le', 'lt', 'no_null', 'present', 'null_if'
    arg: Any = None


@dataclass(frozen=True)
class ArrowContract:
    """A model's JSON Schema as an explicit pyarrow schema and the checks types cannot express."""

    schema: pa.Schema
    checks: tuple[Check, ...]
    model: type[BaseModel]
    nested_names: frozenset[str]  # field names used inside nested objects


def _nested_names(data_type: pa.DataType, depth: int = 0) -> set[str]:
    names: set[str] = set()
    if pa.types.is_list(data_type):
        return _nested_names(data_type.value_type, depth)
    if pa.types.is_struct(data_type):
        for f in data_type:
            if depth > 0:
                names.add(f.name)
            names |= _nested_names(f.type, depth + 1)
    return names


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in node:
        target = defs[node["$ref"].rsplit("/", 1)[-1]]
        extra = {k: v for k, v in node.items() if k != "$ref"}
        return {**target, **extra}
    return node


def _split_nullable(node: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    options = node.get("anyOf")
    if options is None:
        return node, False
    kept = [o for o in options if o.get("type") != "null"]
    if len(kept) != 1:
        raise Unsupported(f"union of {len(kept)} types")
    return {**kept[0], **{k: v for k, v in node.items() if k != "anyOf"}}, len(kept) < len(options)


def _translate(node: dict[str, Any], defs: dict[str, Any], path: tuple[str, ...], checks: list[Check]) -> pa.DataType:
    node = _resolve(node, defs)
    if "enum" in node:
        checks.append(Check(path, "enum", tuple(node["enum"])))
    if "const" in node:
        checks.append(Check(path, "const", node["const"]))
    for key, kind in (("minimum", "ge"), ("exclusiveMinimum", "gt"), ("maximum", "le"), ("exclusiveMaximum", "lt")):
        if key in node:
            checks.append(Check(path, kind, node[key]))
    if "pattern" in node or "format" in node or "minLength" in node or "maxLength" in node:
        raise Unsupported(f"string constraint at {'.'.join(path)}")
    json_type = node.get("type")
    if json_type == "integer":
        return pa.int64()
    if json_type == "number":
        return pa.float64()
    if json_type == "string":
        return pa.string()
    if json_type == "boolean":
        return pa.bool_()
    if json_type == "array":
        if "minItems" in node or "maxItems" in node:
            raise Unsupported(f"array length at {'.'.join(path)}")
        item, nullable = _split_nullable(_resolve(node["items"], defs))
        inner = (*path, "[]")
        if not nullable:
            checks.append(Check(inner, "no_null"))
        return pa.list_(_translate(item, defs, inner, checks))
    if json_type == "object" and "properties" in node:
        if node.get("additionalProperties") is not False:
            raise Unsupported(f"open object at {'.'.join(path)}")
        return pa.struct(_fields(node, defs, path, checks))
    raise Unsupported(f"type {json_type!r} at {'.'.join(path) or '<record>'}")


def _fields(node: dict[str, Any], defs: dict[str, Any], path: tuple[str, ...], checks: list[Check]) -> list[pa.Field]:
    required = set(node.get("required", []))
    out = []
    for name, prop in node["properties"].items():
        inner, nullable = _split_nullable(_resolve(prop, defs))
        sub = (*path, name)
        if name in required and not nullable:
            checks.append(Check(sub, "required"))
        elif name in required:
            checks.append(Check(sub, "present"))  # may be null, but the key must be there
        elif not nullable:
            checks.append(Check(sub, "no_null"))  # may be absent (default), but not an explicit null
        out.append(pa.field(name, _translate(inner, defs, sub, checks)))
    return out


def _conditional_nulls(rule: dict[str, Any]) -> list[Check]:
    """Checks for one top-level ``{"if": <field is one of values>, "then": <fields are null>}`` rule.

    That is the only conditional shape translated (ScoreResult's task-type rules: a code result has no
    ``answer``); anything else is Unsupported, so pydantic judges the file.
    """
    cond, then = rule.get("if"), rule.get("then")
    if set(rule) != {"if", "then"} or not isinstance(cond, dict) or not isinstance(then, dict):
        raise Unsupported("conditional rule of another shape")
    props = cond.get("properties", {})
    if set(cond) - {"properties", "required"} or len(props) != 1 or set(then) != {"properties"}:
        raise Unsupported("conditional rule of another shape")
    (field, test), = props.items()
    if set(test) == {"const"}:
        values = (test["const"],)
    elif set(test) == {"enum"}:
        values = tuple(test["enum"])
    else:
        raise Unsupported("conditional test of another shape")
    absent_matches = field not in cond.get("required", [])  # 'properties' alone also holds when the key is absent
    checks = []
    for target, want in then["properties"].items():
        if want != {"type": "null"}:
            raise Unsupported("conditional consequence of another shape")
        checks.append(Check((target,), "null_if", (field, values, absent_matches)))
    return checks


@cache
def arrow_contract(model: type[BaseModel]) -> ArrowContract:
    """The explicit pyarrow schema and checks equivalent to a model's JSON Schema."""
    js = model.model_json_schema()
    checks: list[Check] = []
    if set(js) & {"oneOf", "anyOf", "if", "not"}:
        raise Unsupported("top-level combinator")
    for rule in js.get("allOf", []):
        checks += _conditional_nulls(rule)
    fields = _fields(js, js.get("$defs", {}), (), checks)
    nested = _nested_names(pa.struct(fields))
    return ArrowContract(pa.schema(fields), tuple(checks), model, frozenset(nested))


Located = tuple[pa.Array, "pa.Array | None"]


def _navigate(table: pa.Table, path: tuple[str, ...], memo: dict[tuple[str, ...], Located]) -> Located:
    """The values at path and, per value, whether its parent exists (None: every parent does).

    Prefixes are memoized, so the many checks of one chunk walk each column once.
    """
    if path in memo:
        return memo[path]
    if len(path) == 1:
        located: Located = (table.column(path[0]).combine_chunks(), None)
    else:
        arr, parent_valid = _navigate(table, path[:-1], memo)
        here = pc.is_valid(arr) if arr.null_count else None
        valid = here if parent_valid is None else parent_valid if here is None else pc.and_(parent_valid, here)
        if path[-1] == "[]":
            # A child exists for every element of every non-null list.
            child_valid = None if valid is None else _repeat(valid, pc.list_value_length(arr))
            located = (arr.flatten(), child_valid)
        else:
            located = (pc.struct_field(arr, path[-1]), valid)
    memo[path] = located
    return located


def _repeat(mask: pa.Array, counts: pa.Array) -> pa.Array:
    m = mask.to_numpy(zero_copy_only=False)
    c = pc.fill_null(counts, 0).to_numpy(zero_copy_only=False)
    return pa.array(np.repeat(m, c), pa.bool_())


def _lines(chunk: bytes, rows: np.ndarray) -> Iterator[tuple[int, int]]:
    """(start, end) offsets of the given rows (0-based non-blank lines of chunk)."""
    view = np.frombuffer(chunk, dtype=np.uint8)
    ends = np.flatnonzero(view == ord("\n"))
    starts = np.concatenate(([0], ends[:-1] + 1))
    keep = ends > starts  # pyarrow skips blank lines: so do the row numbers
    starts, ends = starts[keep], ends[keep]
    for r in rows:
        yield int(starts[r]), int(ends[r])


def _key_missing(chunk: bytes, rows: np.ndarray, key: str, contract: ArrowContract) -> bool:
    """Whether any of the given rows lacks a top-level key whose value is null in the parsed table."""
    if key in contract.nested_names:
        # The same name also lives in a nested object: only a real parse tells the levels apart.
        # pydantic validates just these lines (those where the value came out null).
        for start, end in _lines(chunk, rows):
            try:
                contract.model.model_validate_json(chunk[start:end])
            except ValidationError:
                return True
        return False
    # A quote inside a JSON string is escaped, so '"key"' then ':' can only be a real key.
    pattern = re.compile(rb'"' + re.escape(key).encode() + rb'"\s*:')
    return any(pattern.search(chunk, start, end) is None for start, end in _lines(chunk, rows))


def _check_table(table: pa.Table, chunk: bytes, contract: ArrowContract) -> None:
    """Raise Mismatch unless every row satisfies every check (pydantic then names the bad line)."""
    memo: dict[tuple[str, ...], Located] = {}
    for check in contract.checks:
        values, parent_valid = _navigate(table, check.path, memo)
        if check.kind == "null_if":
            field, wanted, absent_matches = check.arg
            cond = table.column(field).combine_chunks()
            matches = pc.is_in(cond, value_set=pa.array(wanted, cond.type))
            if absent_matches:
                matches = pc.fill_null(matches, True)  # an absent key takes the default, which the rule covers
            if pc.any(pc.and_(pc.fill_null(matches, False), pc.is_valid(values))).as_py():
                raise Mismatch(f"{'.'.join(check.path)} must be null when {field} is one of {wanted}")
            continue
        if check.kind == "present":
            # The key must be there, possibly with null: look at the raw lines of the null rows only.
            nulls = np.flatnonzero(pc.is_null(values).to_numpy(zero_copy_only=False))
            if len(check.path) == 1 and len(nulls) and _key_missing(chunk, nulls, check.path[0], contract):
                raise Mismatch(f"missing key {check.path[0]}")
            continue
        if check.kind in ("required", "no_null"):
            # For 'no_null' a null is either an explicit null (invalid) or an omitted key (valid, the
            # default applies). The writers always write every key, so both take the slow path.
            if not values.null_count:
                continue
            bad = pc.is_null(values) if parent_valid is None else pc.and_(parent_valid, pc.is_null(values))
        elif check.kind == "enum":
            bad = pc.and_(pc.is_valid(values), pc.invert(pc.is_in(values, value_set=pa.array(check.arg, values.type))))
        elif check.kind == "const":
            bad = pc.fill_null(pc.not_equal(values, check.arg), False)
        else:
            op = {"ge": pc.less, "gt": pc.less_equal, "le": pc.greater, "lt": pc.greater_equal}[check.kind]
            bad = pc.fill_null(op(values, check.arg), False)
        if pc.any(bad).as_py():
            raise Mismatch(f"{check.kind} failed for {'.'.join(check.path)}")


def _chunks(path: Path, size: int, digest: Any = None) -> Iterator[bytes]:
    """The file in pieces of about size bytes, each ending at a line break (fed to digest as read)."""
    with open(path, "rb") as f:
        rest = b""
        while block := f.read(size):
            if digest is not None:
                digest.update(block)
            block = rest + block
            cut = block.rfind(b"\n") + 1
            if cut == 0:
                rest = block
                continue
            rest = block[cut:]
            yield block[:cut]
        if rest.strip():
            yield rest + b"\n"


def _select(table: pa.Table, columns: list[str]) -> pa.Table:
    arrays = []
    for col in columns:
        steps = tuple(col.split("."))
        arr = table.column(steps[0]).combine_chunks()
        for step in steps[1:]:
            arr = pc.struct_field(arr, step)
        arrays.append(arr)
    return pa.Table.from_arrays(arrays, names=columns)


def read_columns(
    path: Path, model: type[BaseModel], columns: list[str], chunk_bytes: int = CHUNK_BYTES,
    verify: Callable[[str], None] | None = None,
) -> pa.Table:
    """Validate every record of a JSONL file as model and return the requested columns.

    ``columns`` are field names, or dotted paths into nested objects ('sampling.temperature').
    ``verify``, if given, receives the file's sha256, computed during the same pass, before any
    record is returned or judged (so a changed file is reported as changed, not as invalid).
    Raises InvalidInputError ('file:line: field: problem') on the first invalid record.
    """
    digest = hashlib.sha256() if verify is not None else None
    try:
        contract = arrow_contract(model)
    except Unsupported as e:
        log.debug("fast path unavailable for %s (%s); validating line by line", model.__name__, e)
        if verify is not None:
            verify(sha256_file(path))
        return _read_with_pydantic(path, model, columns)
    parse = pj.ParseOptions(explicit_schema=contract.schema, unexpected_field_behavior="error")
    # Blocks of 1 MiB let Arrow parse one chunk on every core (it releases the GIL meanwhile).
    opts = pj.ReadOptions(block_size=min(chunk_bytes + 1, BLOCK_BYTES), use_threads=True)
    pieces: list[pa.Table] = []
    chunks = _chunks(path, chunk_bytes, digest)
    for chunk in chunks:
        try:
            table = pj.read_json(io.BytesIO(chunk), read_options=opts, parse_options=parse)
            _check_table(table, chunk, contract)
        except (pa.ArrowInvalid, Mismatch) as e:
            log.debug("%s: fast validation stopped (%s); validating line by line", path, e)
            if verify is not None and digest is not None:
                for _ in chunks:  # finish hashing: a changed file must be reported as such
                    pass
                verify(digest.hexdigest())
            return _read_with_pydantic(path, model, columns)
        pieces.append(_select(table, columns))
    if verify is not None and digest is not None:
        verify(digest.hexdigest())
    if not pieces:
        return _select(contract.schema.empty_table(), columns)
    return pa.concat_tables(pieces)


def _read_with_pydantic(path: Path, model: type[BaseModel], columns: list[str]) -> pa.Table:
    """The authoritative slow path: raises pydantic's error, or returns what it accepted."""
    rows = [m.model_dump(mode="json") for m in iter_jsonl(path, model)]
    try:
        schema = arrow_contract(model).schema
        table = pa.Table.from_pylist(rows, schema=schema)
    except Unsupported:
        table = pa.Table.from_pylist(rows)
    if not rows:
        return pa.table({c: pa.array([], pa.null()) for c in columns})
    return _select(table, columns)
