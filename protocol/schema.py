"""Shared building blocks for message and record bodies.

Bodies are validated with pydantic in strict mode: no coercion (a string is
never read as a number), unknown fields refused, ``nil`` never allowed (an
absent optional field is simply left out, so each value has one encoding).
Values are frozen.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import InvalidMessage
from .identity import is_node_id

MAX_TEXT = 5000


class Body(BaseModel):
    """Base of every body: strict, frozen, closed.

    ``parse`` refuses nil at the top level; nested bodies with optional fields
    inherit ``NilFree`` (nested bodies whose fields are all required refuse
    nil through their types).
    """

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    def to_wire(self) -> dict[str, Any]:
        """The body as a plain map for canonical encoding (absent fields left out)."""
        return self.model_dump(mode="python", exclude_none=True)


def _nil_field(data: Any) -> str | None:
    if isinstance(data, Mapping) and None in data.values():
        return next(str(k) for k, v in data.items() if v is None)
    return None


class NilFree(Body):
    """A nested body with optional fields: nil is refused there too."""

    @model_validator(mode="before")
    @classmethod
    def _no_nil(cls, data: Any) -> Any:
        field = _nil_field(data)
        if field is not None:
            raise ValueError(f"{field}: nil is not allowed; leave the field out")
        return data


def parse(model: type[Body], data: Any) -> Any:
    """Validate ``data`` as ``model``; every failure becomes InvalidMessage naming the field."""
    field = _nil_field(data)
    if field is not None:
        message = f"{model.__name__}: {field}: nil is not allowed; leave the field out"
        raise InvalidMessage(message, problems=[{"field": field, "reason": "nil is not allowed"}])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [
            {"field": ".".join(str(p) for p in err["loc"]) or "(body)", "reason": err["msg"]}
            for err in exc.errors(include_url=False, include_input=False)
        ]
        first = problems[0]
        raise InvalidMessage(f"{model.__name__}: {first['field']}: {first['reason']}", problems=problems[:20]) from None


def _node_id(value: str) -> str:
    if not is_node_id(value):
        raise ValueError("not a node id")
    return value


_RECORD_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_CURRENCY_RE = re.compile(r"[A-Z]{3}")
_URL_RE = re.compile(r"https?://[^\s#]{1,500}")

# Patterns are anchored: pydantic searches for a pattern anywhere in the string.
NodeId = Annotated[str, Field(min_length=52, max_length=52, pattern=r"^[a-z2-7]{52}$"), AfterValidator(_node_id)]
RecordId = Annotated[str, Field(pattern=f"^{_RECORD_ID_RE.pattern}$", max_length=64)]
ShortText = Annotated[str, Field(min_length=1, max_length=200)]
LongText = Annotated[str, Field(max_length=MAX_TEXT)]
Label = Annotated[str, Field(max_length=100)]
Unit = Annotated[str, Field(min_length=1, max_length=32)]
Url = Annotated[str, Field(pattern=f"^{_URL_RE.pattern}$", max_length=500)]
Millis = Annotated[int, Field(ge=0, lt=2**53)]
Hash32 = Annotated[bytes, Field(min_length=32, max_length=32)]


class Location(Body):
    """A point in integer micro-degrees (WGS 84): 48.8566° is 48856600."""

    lat: Annotated[int, Field(ge=-90_000_000, le=90_000_000)]
    lon: Annotated[int, Field(ge=-180_000_000, le=180_000_000)]


Currency = Annotated[str, Field(pattern=f"^{_CURRENCY_RE.pattern}$")]  # ISO 4217


class Money(Body):
    """An amount in the currency's minor unit (cents for EUR) with its ISO 4217 code."""

    amount: Annotated[int, Field(ge=0, le=10**15)]
    currency: Currency
