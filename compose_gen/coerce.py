"""One coercer for typed dataclass fields read from outside: config tables, env vars, leases.

A field's type comes from its resolved annotation (`typing.get_type_hints`), never from
comparing `str(field.type)`, so `str | None`, `tuple[str, ...]`, `Mapping[str, str]` and enums
are handled in one place for `config.py` (TOML and `COMPOSE_GEN_*` variables) and `leases.py`
(the JSON lease registry). Callers turn `CoercionError` into their own error: a ConfigError
naming the key, or an unreadable registry.
"""

from __future__ import annotations

import enum
import functools
import types
import typing
from collections.abc import Mapping
from typing import Any

_NONE = type(None)
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


class CoercionError(ValueError):
    """A value that is not of its field's type; `expected` reads "an integer", "a string" …"""

    def __init__(self, expected: str) -> None:
        super().__init__(f"must be {expected}")
        self.expected = expected


@functools.cache
def field_types(cls: type) -> dict[str, Any]:
    """Each dataclass field's resolved type (annotations are strings under `annotations`)."""
    return typing.get_type_hints(cls)


def _optional(hint: Any) -> tuple[Any, bool]:
    """(the type inside `X | None`, whether None is allowed)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [arg for arg in typing.get_args(hint) if arg is not _NONE]
        if len(args) == 1:
            return args[0], _NONE in typing.get_args(hint)
    return hint, False


def describe(hint: Any) -> str:
    hint, _ = _optional(hint)
    origin = typing.get_origin(hint)
    if hint is bool:
        return "true or false"
    if hint is int:
        return "an integer"
    if hint is float:
        return "a number"
    if hint is str:
        return "a string"
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return "one of " + ", ".join(repr(member.value) for member in hint)
    if origin is tuple:
        return "a list of strings"
    if origin in (Mapping, dict):
        return "a table of strings"
    raise AssertionError(f"no coercion for {hint!r}")  # pragma: no cover


def coerce(value: Any, hint: Any) -> Any:
    """`value` as a `hint`; CoercionError if it is not one (a bool is never a number)."""
    hint, nullable = _optional(hint)
    if value is None and nullable:
        return None
    origin = typing.get_origin(hint)
    if hint is bool:
        if isinstance(value, bool):
            return value
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif hint is str:
        if isinstance(value, str):
            return value
    elif isinstance(hint, type) and issubclass(hint, enum.Enum):
        try:
            return hint(value)
        except ValueError:
            pass
    elif origin is tuple:
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            return tuple(value)
    elif origin in (Mapping, dict):
        if isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str)
                                           for k, v in value.items()):
            return dict(value)
    else:  # pragma: no cover - a field type this module was not taught
        raise AssertionError(f"no coercion for {hint!r}")
    raise CoercionError(describe(hint))


def parse_text(raw: str, hint: Any) -> Any:
    """A value written as text (an environment variable) in the shape `coerce` accepts."""
    hint, _ = _optional(hint)
    origin = typing.get_origin(hint)
    if hint is int:
        try:
            return int(raw)
        except ValueError:
            raise CoercionError(describe(hint)) from None
    if hint is float:
        try:
            return float(raw)
        except ValueError:
            raise CoercionError(describe(hint)) from None
    if hint is bool:
        lowered = raw.strip().lower()
        if lowered in _TRUE or lowered in _FALSE:
            return lowered in _TRUE
        raise CoercionError(describe(hint))
    if origin is tuple:
        return [part.strip() for part in raw.split(",") if part.strip()]
    if origin in (Mapping, dict):
        pairs = [part.split("=", 1) for part in raw.split(",") if part]
        if not all(len(pair) == 2 for pair in pairs):
            raise CoercionError("pairs like key=value,key2=value2")
        return dict(pairs)
    return raw


def is_str_list(hint: Any) -> bool:
    """A `tuple[str, ...]` field (config accepts one string for a list of one)."""
    return typing.get_origin(_optional(hint)[0]) is tuple


def is_str_map(hint: Any) -> bool:
    return typing.get_origin(_optional(hint)[0]) in (Mapping, dict)


class TextEnum(str, enum.Enum):
    """A state or level stored as text: compares, formats and serialises as its value, so
    JSON files and printed columns stay what they were when it was a plain string."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)
