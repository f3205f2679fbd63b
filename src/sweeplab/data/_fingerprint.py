"""A stable digest of the raw data and every argument that shapes a Dataset."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["fingerprint"]


def fingerprint(arrays: Sequence[npt.NDArray[Any]], params: Mapping[str, Any]) -> str:
    """SHA-256 hex of the arrays (dtype, shape, little-endian bytes) and JSON ``params``.

    Byte order and memory layout are normalised so the digest is the same on
    every machine.
    """
    digest = hashlib.sha256()
    for array in arrays:
        canonical = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
        digest.update(f"{canonical.dtype.str}{canonical.shape};".encode())
        digest.update(canonical.data)
    digest.update(json.dumps(dict(params), sort_keys=True).encode())
    return digest.hexdigest()
