"""Where a dataset's raw records come from: a local file, or the public hub through ``datasets``."""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coderig_schemas import InvalidInputError


@dataclass(frozen=True)
class HubSource:
    """A dataset on the Hugging Face hub."""

    repo: str
    config: str | None = None
    split: str | None = None  # None: every split of the config, concatenated


@dataclass(frozen=True)
class RawRecord:
    """One raw dataset row and where it came from (for 'file:line' errors)."""

    where: str
    row: dict[str, Any]


def env_var(dataset: str) -> str:
    """Name of the env var that points at a dataset's local file, e.g. CODERIG_DATA_HUMANEVAL."""
    return "CODERIG_DATA_" + dataset.upper()


DATA_DIR_ENV = "CODERIG_DATA_DIR"


def resolve_local(dataset: str, source: Path | None, standard_file: str | None, env: Mapping[str, str] | None = None) -> Path | None:
    """The local file to read, or None to use the hub.

    Order: the explicit source, then ``CODERIG_DATA_<NAME>``, then ``<CODERIG_DATA_DIR>/<standard file>``.
    """
    env = os.environ if env is None else env
    if source is not None:
        return Path(source)
    if env.get(env_var(dataset)):
        return Path(env[env_var(dataset)])
    if env.get(DATA_DIR_ENV) and standard_file:
        candidate = Path(env[DATA_DIR_ENV]) / standard_file
        if candidate.is_file():
            return candidate
    return None


def read_file(path: Path) -> list[RawRecord]:
    """Rows of a .jsonl, .jsonl.gz or .json (a list of objects) file, each with its 'file:line'."""
    if not path.is_file():
        raise InvalidInputError(f"{path}: file not found", hint="check --data-file or the CODERIG_DATA_* variable")
    opener: Any = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise InvalidInputError(f"{path}: cannot read: {e}", hint="pass a UTF-8 .jsonl, .jsonl.gz or .json file") from None
    stem = path.name.removesuffix(".gz")
    if stem.endswith(".json") and text.lstrip().startswith("["):
        return _read_json_array(path, text)
    out: list[RawRecord] = []
    # split on "\n" only: str.splitlines also breaks at U+2028, U+2029 and U+0085, which JSON strings
    # may hold unescaped (json.dumps(..., ensure_ascii=False) writes them as they are)
    for lineno, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise InvalidInputError(f"{path}:{lineno}: not JSON: {e.msg}", hint="each line must be one JSON object") from None
        if not isinstance(row, dict):
            raise InvalidInputError(f"{path}:{lineno}: not a JSON object", hint="each line must be one JSON object")
        out.append(RawRecord(f"{path}:{lineno}", row))
    return out


def _read_json_array(path: Path, text: str) -> list[RawRecord]:
    try:
        rows = json.loads(text)
    except json.JSONDecodeError as e:
        raise InvalidInputError(f"{path}:{e.lineno}: not JSON: {e.msg}", hint="fix the file") from None
    out = []
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise InvalidInputError(f"{path}: item {i}: not a JSON object", hint="the file must be a list of objects")
        out.append(RawRecord(f"{path}: item {i}", row))
    return out


def read_hub(dataset: str, hub: HubSource) -> list[RawRecord]:
    """Rows of a hub dataset; offline or unreachable gives a one-line error naming the local alternatives."""
    import datasets  # heavy (pyarrow, fsspec): only when a hub load is really needed

    label = hub.repo + (f" ({hub.config})" if hub.config else "")
    try:
        loaded = datasets.load_dataset(hub.repo, hub.config, split=hub.split)
    except Exception as e:  # the hub client raises many types (ConnectionError, HfHubHTTPError, ...)
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise InvalidInputError(
            f"cannot load dataset {dataset!r} from the hub {label}: {reason}",
            hint=f"pass --data-file FILE, or set {env_var(dataset)}=FILE or {DATA_DIR_ENV}=DIR (offline machines have no hub access)",
        ) from None
    parts = [(hub.split, loaded)] if hub.split else sorted(loaded.items())
    out: list[RawRecord] = []
    for split, ds in parts:
        for i, row in enumerate(ds):
            out.append(RawRecord(f"{hub.repo}[{split}] row {i}", dict(row)))
    return out
