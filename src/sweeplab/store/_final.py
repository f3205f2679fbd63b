"""Files of a final model: safetensors written atomically, and their digests."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

__all__ = ["sha256_file", "write_safetensors"]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_safetensors(path: Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    """``save_file`` to a temporary file, fsync, rename: readers never see half a file.

    ``meta`` goes in as one ``"sweeplab"`` JSON string with sorted keys: safetensors
    writes metadata keys in hash-map order, so a single key keeps the bytes (and
    the card's sha256) the same every time the same weights are saved.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        from safetensors.torch import save_file

        save_file(tensors, tmp, metadata={"sweeplab": json.dumps(meta, sort_keys=True)})
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
