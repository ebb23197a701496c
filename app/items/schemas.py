"""Request and response bodies for items."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)
from pydantic.json_schema import WithJsonSchema

from app.text import NAME_PATTERN, NO_NUL_PATTERN, reject_unstorable_text

MAX_ID = 2**63 - 1  # BIGINT; larger ids cannot exist and must not reach the database.

Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(reject_unstorable_text),
    Field(
        description="Display name, trimmed, 1 to 200 characters.",
        examples=["Desk lamp"],
        json_schema_extra={"pattern": NAME_PATTERN},
    ),
]
Description = Annotated[
    str,
    StringConstraints(max_length=2000),
    AfterValidator(reject_unstorable_text),
    Field(
        description="Free text, up to 2,000 characters.",
        examples=["Warm white, 40 W"],
        json_schema_extra={"pattern": NO_NUL_PATTERN},
    ),
]
# JSON Schema cannot say "12 digits, 2 decimal places" for a decimal; spell out what passes.
_PRICE_JSON_SCHEMA = {
    "anyOf": [
        {"type": "number", "minimum": 0, "maximum": 9999999999.99, "multipleOf": 0.01},
        {"type": "string", "pattern": r"^[0-9]{1,10}(\.[0-9]{1,2})?$"},
    ],
    "description": "Exact price, at least 0, two decimal places. Returned as a string.",
    "examples": ["19.99"],
}
# Python's Decimal also reads other scripts' digits ("١٢"), underscores ("1_000") and
# exponents ("1e2"); a price string must be plain ASCII digits (range and places checked after).
_PRICE_TEXT = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def _plain_decimal_text(value: Any) -> Any:
    if isinstance(value, str) and not _PRICE_TEXT.fullmatch(value):
        raise ValueError('a price string is ASCII digits with an optional fraction, e.g. "19.99"')
    return value


Price = Annotated[
    Decimal,
    BeforeValidator(_plain_decimal_text),
    Field(
        ge=0,
        max_digits=12,
        decimal_places=2,
        description="Exact price, at least 0, two decimal places. Returned as a string.",
        examples=["19.99"],
    ),
    WithJsonSchema(_PRICE_JSON_SCHEMA, mode="validation"),
]


class ItemCreate(BaseModel):
    """A new item. Unknown fields are rejected."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"name": "Desk lamp", "description": "Warm white", "price": "19.99"}]
        },
    )

    name: Name
    description: Description | None = None
    price: Price | None = None


def _document_update(schema: dict[str, Any]) -> None:
    """`name` may be left out but never set to null: drop the null branch from its schema."""
    name = schema["properties"]["name"]
    branches = name.pop("anyOf")
    name.update(next(branch for branch in branches if branch.get("type") != "null"))
    name.pop("default", None)
    schema["examples"] = [{"price": "17.50"}]


class ItemUpdate(BaseModel):
    """A partial update: only the fields present change. Unknown fields are rejected."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_document_update)

    name: Name | None = None
    description: Description | None = None
    price: Price | None = None

    @model_validator(mode="after")
    def _name_not_null(self) -> ItemUpdate:
        if "name" in self.model_fields_set and self.name is None:
            raise ValueError("name cannot be null; omit it to keep the current name")
        return self


class ItemRead(BaseModel):
    """An item as stored."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 1,
                    "name": "Desk lamp",
                    "description": "Warm white",
                    "price": "19.99",
                    "created_at": "2026-01-02T03:04:05.123456Z",
                    "updated_at": "2026-01-02T03:04:05.123456Z",
                }
            ]
        }
    )

    id: int = Field(description="Server-assigned identifier.")
    name: str
    description: str | None
    price: Decimal | None = Field(description="Exact price as a decimal string, or null.")
    created_at: datetime = Field(description="Creation time, UTC.")
    updated_at: datetime = Field(description="Last change, UTC.")


class ItemPage(BaseModel):
    """One page of items, ordered by id, with the total count."""

    items: list[ItemRead]
    total: int = Field(description="Number of items in the whole collection.")
    limit: int
    offset: int
