"""The manifest written last into every published stage output."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from ._base import Record, upgrade_record
from .identity import RunIdentity

Stage = Literal["generate", "score", "analyze", "export"]

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def _rfc3339(value: Any) -> Any:
    # Accept what JSON Schema's "date-time" accepts (RFC 3339 with an offset), nothing laxer.
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("datetime must be timezone-aware")
        return value
    if isinstance(value, str) and _RFC3339.match(value):
        return datetime.fromisoformat(value.replace("z", "Z"))
    raise ValueError("must be an RFC 3339 date-time string with a UTC offset, e.g. 2026-01-02T03:04:05Z")


Timestamp = Annotated[datetime, BeforeValidator(_rfc3339), Field(strict=False)]


class FileEntry(Record):
    """A file with its digest."""

    path: str = Field(description="Path relative to the output directory (outputs) or to the run store (inputs).")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="sha256 of the file's bytes.")
    size: int = Field(ge=0, description="Size in bytes.")
    records: int | None = Field(default=None, ge=0, description="Number of records (JSONL lines), if a record file.")
    schema_name: str | None = Field(default=None, description="Name of the JSON Schema each record follows, if any.")


class InputRef(Record):
    """An upstream output this one was computed from."""

    ref: str = Field(description="Reference of the upstream output: '<stage>/<name>/<key>'.")
    manifest_sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="sha256 of the upstream manifest.json.")
    files: list[FileEntry] = Field(description="Every upstream file read, with its sha256 at read time.")


class Environment(Record):
    """Where the output was computed."""

    python: str = Field(description="Python version.")
    platform: str = Field(description="platform.platform().")
    hostname: str = Field(description="Host name.")
    cpu: str = Field(description="CPU model and count.")
    accelerator: str = Field(description="GPU name(s) and memory, or 'cpu'.")
    packages: dict[str, str] = Field(description="Key package versions.")


class Manifest(Record):
    """What a published output is, how it was made and from what; written last, before publish."""

    schema_version: Literal[2] = Field(default=2, description="Version of this record's shape.")
    stage: Stage = Field(description="Stage that produced the output.")
    name: str = Field(description="Human-readable output name (e.g. 'tiny-random__humaneval__s0').")
    key: str = Field(pattern=r"^[0-9a-f]{16}$", description="Identity: hash of config_hash and the input manifests.")
    tool: str = Field(description="Tool name, e.g. 'coderig-score'.")
    tool_version: str = Field(description="Tool version.")
    git_sha: str | None = Field(default=None, description="Git commit of the tool's source tree, if known.")
    created_at: Timestamp = Field(description="When the output was published (UTC).")
    started_at: Timestamp = Field(description="When the work began (UTC).")
    config: dict[str, Any] = Field(description="The stage's full configuration, as JSON.")
    config_hash: str = Field(pattern=r"^[0-9a-f]{64}$", description="sha256 of the canonical JSON of config.")
    inputs: list[InputRef] = Field(default_factory=list, description="Upstream outputs read, by reference and hash.")
    outputs: list[FileEntry] = Field(description="Every file of the output except manifest.json and logs/.")
    environment: Environment = Field(description="Where it was computed.")
    timings: dict[str, float] = Field(default_factory=dict, description="Phase -> wall seconds.")
    stats: dict[str, Any] = Field(default_factory=dict, description="Stage-specific counts (records, throughput).")
    identity: RunIdentity | None = Field(default=None, description=(
        "Generate outputs: the run's model, dataset, split, seed, sampling and prompt settings and engine "
        "(coderig_schemas.scored.run_identity reads it, or derives it for outputs without one). "
        "Null for other stages, and in version 1 manifests."))

    @model_validator(mode="before")
    @classmethod
    def _read_older_versions(cls, data: Any) -> Any:
        return upgrade_record(data, cls, added={1: frozenset({"identity"})})
