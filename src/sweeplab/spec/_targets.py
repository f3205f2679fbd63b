"""Import a user's function from ``"path/to/file.py:name"`` or ``"package.module:name"``."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sweeplab.errors import SpecError

__all__ = ["absolute_target", "load_callable"]


def _is_file(module_name: str) -> bool:
    return module_name.endswith(".py") or "/" in module_name


def absolute_target(target: str, base_dir: str | Path) -> str:
    """``target`` with a relative file path made absolute against ``base_dir``.

    Study files store absolute targets, so a study resumes from any directory.
    """
    module_name, sep, attr = target.rpartition(":")
    if not sep or not _is_file(module_name) or Path(module_name).is_absolute():
        return target
    return f"{(Path(base_dir) / module_name).resolve()}:{attr}"


def load_callable(target: str, base_dir: str | Path | None = None, what: str = "objective") -> Any:
    """The callable named by ``target``; a relative file path is read from ``base_dir``.

    Raises:
        SpecError: the file or module cannot be imported or has no such callable.
    """
    module_name, sep, attr = target.rpartition(":")
    if not sep or not module_name or not attr:
        raise SpecError(
            f"{what} must be 'file.py:function' or 'module:function', but got {target!r}"
        )
    if _is_file(module_name):
        path = Path(module_name)
        if not path.is_absolute() and base_dir is not None and not path.exists():
            path = Path(base_dir) / path
        if not path.is_file():
            raise SpecError(f"{what} file must exist, but {str(path)!r} was not found")
        name = f"sweeplab_user_{path.stem}_{abs(hash(str(path.resolve())))}"
        cached = sys.modules.get(name)
        if (
            cached is not None
            and getattr(cached, "__sweeplab_mtime__", None) == path.stat().st_mtime
        ):
            return _attr(cached, module_name, attr, what)
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise SpecError(f"{what} file {str(path)!r} cannot be imported as Python")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        sys.path.insert(0, str(path.parent.resolve()))
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            sys.modules.pop(name, None)
            raise SpecError(f"{what} file {str(path)!r} failed to import: {exc!r}") from None
        finally:
            sys.path.remove(str(path.parent.resolve()))
        module.__sweeplab_mtime__ = path.stat().st_mtime  # type: ignore[attr-defined]
    else:
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:
            raise SpecError(f"{what} module {module_name!r} cannot be imported: {exc!r}") from None
    return _attr(module, module_name, attr, what)


def _attr(module: Any, module_name: str, attr: str, what: str) -> Any:
    """The callable ``attr`` of ``module`` (files are imported once per change, so
    classes stay identical across calls and modules built from them stack)."""
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise SpecError(f"{what} must name a function in {module_name!r}, but {attr!r} is not one")
    out: Callable[..., Any] = fn
    return out
