"""Where a dataset's raw records come from: a local file, or the public hub through ``datasets``."""

from __future__ import annotations

import gzip
import os
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from coderig_schemas import InvalidInputError
from coderig_schemas.io import iter_jsonl_objects, parse_json_document


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
    hint = "check --data-file or the CODERIG_DATA_* variable"
    if path.name.removesuffix(".gz").endswith(".json") and path.is_file():
        opener: Any = gzip.open if path.suffix == ".gz" else open
        try:
            with opener(path, "rt", encoding="utf-8") as f:
                text = f.read()
        except (OSError, EOFError, UnicodeDecodeError) as e:
            raise InvalidInputError(f"{path}: cannot read: {e}", hint="pass a UTF-8 .jsonl, .jsonl.gz or .json file") from None
        if text.lstrip().startswith("["):
            return _read_json_array(path, text)
    return [RawRecord(r.where, r.obj) for r in iter_jsonl_objects(path, missing_hint=hint)]


def _read_json_array(path: Path, text: str) -> list[RawRecord]:
    rows = parse_json_document(text, path)
    out = []
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise InvalidInputError(f"{path}: item {i}: not a JSON object", hint="the file must be a list of objects")
        out.append(RawRecord(f"{path}: item {i}", row))
    return out


_TRUE = {"1", "true", "yes", "on"}
_PROXIES = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")


def hub_unreachable(timeout_s: float = 3.0) -> str | None:
    """Why the hub cannot be reached (one TCP connect to HF_ENDPOINT), or None when it may be.

    Without this, the hub client retries for about 30 s before failing on an offline machine. None
    when a proxy is configured (the proxy decides) or the user already asked for offline mode.
    """
    if any(os.environ.get(v) for v in _PROXIES) or os.environ.get("HF_HUB_OFFLINE", "").lower() in _TRUE:
        return None
    url = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    host, port = url.hostname or "huggingface.co", url.port or (80 if url.scheme == "http" else 443)
    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
    except OSError as e:
        return f"{host}:{port} is unreachable ({e.strerror or type(e).__name__})"
    return None


def _go_offline() -> None:
    # The hub client and datasets read these at import; set both the variables and, if they are already
    # imported, their constants, so a copy in the local cache still loads and nothing else is tried.
    os.environ["HF_HUB_OFFLINE"] = os.environ["HF_DATASETS_OFFLINE"] = "1"
    for module, attr in (("huggingface_hub.constants", "HF_HUB_OFFLINE"), ("datasets.config", "HF_HUB_OFFLINE"),
                         ("datasets.config", "HF_DATASETS_OFFLINE")):
        if module in sys.modules and hasattr(sys.modules[module], attr):
            setattr(sys.modules[module], attr, True)


def read_hub(dataset: str, hub: HubSource) -> list[RawRecord]:
    """Rows of a hub dataset; offline or unreachable gives a one-line error naming the local alternatives.

    When the hub cannot be reached, only the local Hugging Face cache is tried (in a second or so).
    """
    label = hub.repo + (f" ({hub.config})" if hub.config else "")
    unreachable = hub_unreachable()
    if unreachable:
        _go_offline()
    import datasets  # heavy (pyarrow, fsspec): only when a hub load is really needed

    try:
        loaded = datasets.load_dataset(hub.repo, hub.config, split=hub.split)
    except Exception as e:  # the hub client raises many types (ConnectionError, HfHubHTTPError, ...)
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        if unreachable:
            reason = f"{unreachable} and it is not in the local cache"
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
