"""Validation errors as one line: ``<key path> must be <expected>, but got <value>``."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from pydantic import ValidationError

__all__ = ["HERE", "first_error", "unknown_key_message"]

HERE = "<here>."
"""Placeholder for the key path of the value being validated, filled in by :func:`first_error`."""


def unknown_key_message(key: str, known: Iterable[str], prefix: str = "") -> str:
    close = difflib.get_close_matches(key, list(known), n=1)
    hint = f"; did you mean '{prefix}{close[0]}'?" if close else ""
    return f"{prefix}{key} is not a known key{hint}"


_EXPECT = {
    "greater_than": "> {gt}",
    "greater_than_equal": ">= {ge}",
    "less_than": "< {lt}",
    "less_than_equal": "<= {le}",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "finite_number": "a finite number",
    "string_type": "a string",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "tuple_type": "a list",
    "dict_type": "a table",
    "model_type": "a table",
    "model_attributes_type": "a table",
    "too_short": "a list of {min_length}",
    "too_long": "a list of at most {max_length}",
}


def _loc_path(loc: Sequence[int | str], prefix: str) -> str:
    parts: list[str] = [prefix] if prefix else []
    for item in loc:
        if isinstance(item, int):
            if parts:
                parts[-1] += f"[{item}]"
            else:
                parts.append(f"[{item}]")
        elif item in ("list[union[bool,int,float,str]]", "Range") or item.startswith(
            ("list[", "function-")
        ):
            continue
        else:
            parts.append(item)
    return ".".join(parts)


def first_error(
    exc: ValidationError,
    known_keys: Callable[[Sequence[int | str]], tuple[str, ...]],
    prefix: str = "",
    drop_loc: bool = False,
) -> str:
    """One line ``<key path> must be <expected>, but got <value>`` for a validation error."""
    errors = exc.errors()
    # Prefer the most specific error: union branches produce one error each.
    err = max(errors, key=lambda e: len(e["loc"]))
    if any(e["type"] == "extra_forbidden" for e in errors):
        err = next(e for e in errors if e["type"] == "extra_forbidden")
    path = prefix if drop_loc else _loc_path(err["loc"], prefix)
    kind = err["type"]
    value = err.get("input")
    ctx = err.get("ctx", {}) or {}
    if kind == "extra_forbidden":
        loc = list(err["loc"])
        section = _loc_path(loc[:-1], prefix)
        known = known_keys(loc[:-1])
        return unknown_key_message(str(loc[-1]), known, prefix=f"{section}." if section else "")
    if kind == "missing":
        return f"{path} is required"
    if kind == "value_error":
        msg = str(ctx.get("error", err["msg"]))
        if HERE in msg:
            return msg.replace(HERE, f"{path}." if path else "")
        if msg.startswith(("search.", "data.", "params.", "study.")):
            return msg
        if " is not a known key" in msg or msg.startswith(
            ("high must", "low must", "step ", "units")
        ):
            return f"{path}.{msg}" if path else msg
        return f"{path} {msg}, but got {_show(value)}"
    where = tuple(err["loc"])
    if len(where) >= 3 and where[:2] == ("search", "space") and kind.endswith("_type"):
        return (
            f"search.space.{where[2]} must be a list of values or a range like "
            f"{{ low = 1, high = 10 }}, but got {_show(value)}"
        )
    if kind == "literal_error":
        return f"{path} must be {ctx.get('expected', '')}, but got {_show(value)}"
    if kind in _EXPECT:
        return f"{path} must be {_EXPECT[kind].format(**ctx)}, but got {_show(value)}"
    return f"{path}: {err['msg']}, but got {_show(value)}"


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "a table"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
