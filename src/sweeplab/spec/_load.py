"""Reading a study file: TOML, ``--set`` overrides, validation into a :class:`StudySpec`."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import tomllib
from pydantic import ValidationError

from sweeplab.errors import SpecError
from sweeplab.spec._messages import first_error
from sweeplab.spec._models import StudySpec, known_keys

__all__ = ["load_spec", "parse_overrides", "spec_from_dict"]


def parse_overrides(items: Iterable[str]) -> dict[str, Any]:
    """Turn ``["search.trials=3", "params.lr=1e-2"]`` into a nested dict.

    Values are read as TOML (numbers, booleans, lists, inline tables) and fall
    back to plain strings, so ``--set data.dataset=wine`` needs no quotes.
    """
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise SpecError(f"--set must be key=value, but got {item!r}")
        key, raw = item.split("=", 1)
        key = key.strip()
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$", key):
            raise SpecError(f"--set key must be a dotted path like search.trials, but got {key!r}")
        try:
            value: Any = tomllib.loads(f"v = {raw.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw.strip()
        node = out
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise SpecError(f"--set {key} conflicts with another --set")
        node[leaf] = value
    return out


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def spec_from_dict(raw: Mapping[str, Any], overrides: Iterable[str] = ()) -> StudySpec:
    """Validate a parsed study file (plus overrides) into a :class:`StudySpec`."""
    merged = _merge(dict(raw), parse_overrides(overrides))
    if "study" not in merged:
        raise SpecError('study is required: add a [study] table with at least name = "..."')
    try:
        return StudySpec.model_validate(merged)
    except ValidationError as exc:
        raise SpecError(first_error(exc, known_keys)) from None


def load_spec(path: str | Path, overrides: Iterable[str] = ()) -> StudySpec:
    """Read and validate a study file.

    Args:
        path: a TOML study file.
        overrides: ``key=value`` strings applied on top of the file, as with
            ``sweeplab run FILE --set search.trials=3``.

    Raises:
        SpecError: the file is missing, is not TOML, or is not a valid study.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"study file must exist, but {str(path)!r} was not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"study file {str(path)!r} cannot be read: {exc}") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{path} is not valid TOML: {exc}") from None
    return spec_from_dict(raw, overrides)
