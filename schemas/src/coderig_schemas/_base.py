"""Base class shared by every contract model."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator


class Record(BaseModel):
    """A frozen, strict pydantic model: unknown fields are rejected, instances are immutable.

    Every model that crosses a stage boundary derives from this class, so that the JSON Schema
    generated from it says ``additionalProperties: false`` exactly as pydantic enforces it, and strict
    types make pydantic reject what the JSON Schema rejects (no "1" for 1).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    @model_validator(mode="before")
    @classmethod
    def _version_is_not_bool(cls, data: Any) -> Any:
        # Literal[1] matches True in Python (True == 1); JSON Schema's const does not. Keep them agreeing.
        if isinstance(data, dict) and isinstance(data.get("schema_version"), bool):
            raise ValueError("schema_version must be an integer, not a boolean")
        return data


def upgrade_record(data: Any, cls: type[BaseModel], *, added: dict[int, frozenset[str]]) -> Any:
    """Read an older version of a record as the current one (for ``mode="before"`` validators of ``cls``,
    whose ``schema_version`` default is the current version: the one place a model states it).

    ``added`` maps each older version to the fields introduced after it. A record of such a version
    must not carry them (it would be neither shape); every one of them has a default that describes
    the old records (e.g. ``task_type="code"``), so an old record becomes the current model unchanged
    in meaning, with ``schema_version`` set to ``current``. Files on disk keep their version: the
    published schema of that version still describes them.
    """
    if not isinstance(data, dict):
        return data
    model, current = cls.__name__, cls.model_fields["schema_version"].default
    version = data.get("schema_version")
    if isinstance(version, bool) or not isinstance(version, int) or version == current or version not in added:
        return data  # the current version, or not one we upgrade: let normal validation judge it
    present = sorted(f for f in added[version] if f in data)
    if present:
        raise ValueError(f"{', '.join(present)}: not a field of a version {version} {model}; "
                         f"write schema_version {current} or drop the field")
    return {**data, "schema_version": current}
