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
