"""Base class shared by every contract model."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Record(BaseModel):
    """A frozen, strict pydantic model: unknown fields are rejected, instances are immutable.

    Every model that crosses a stage boundary derives from this class, so that the JSON Schema
    generated from it says ``additionalProperties: false`` exactly as pydantic enforces it.
    """

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        strict=True,
        populate_by_name=False,
        use_enum_values=False,
    )
