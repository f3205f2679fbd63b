"""Bad input of every kind exits 2 with one readable line, and writes nothing."""

from __future__ import annotations

import gzip
import struct
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tomli_w
import tomllib
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from sweeplab.cli import app
from sweeplab.errors import SweeplabError
from sweeplab.spec import spec_from_dict

BASE: dict[str, Any] = {
    "study": {"name": "bad", "seed": 1, "objective": "val_accuracy"},
    "data": {"dataset": "iris", "split": [0.7, 0.1, 0.2], "scale": "minmax"},
    "params": {"depth": 1, "units": 8, "lr": 0.01, "batch_size": 16, "epochs": 1},
    "search": {
        "strategy": "random",
        "trials": 2,
        "space": {"lr": {"low": 1e-3, "high": 1e-1, "log": True}, "units": [4, 8]},
    },
    "track": {"tensorboard": False},
}

BAD_VALUES: dict[tuple[str, ...], list[Any]] = {
    ("study", "name"): ["", "../up", "UPPER", "a b", 3, "x" * 80],
    ("study", "seed"): [-1, "one", 1.5, [1]],
    ("study", "objective"): ["test_accuracy", "accuracy", 0],
    ("study", "repeats"): [0, -2, "3"],
    ("study", "device"): ["gpu", "cuda:x", 1],
    ("study", "dtype"): ["float16", 32],
    ("data", "dataset"): ["imagenet", "", "nomodule:fn", "csv", 5],
    ("data", "split"): [[0.5, 0.5], [0.9, 0.2, 0.1], [0, 0.5, 0.5], "70/10/20", [1, -0.5, 0.5]],
    ("data", "scale"): ["zscore", True],
    ("data", "max_samples"): [0, -5, "many"],
    ("params", "depth"): [0, 9, -1, 2.5, "deep"],
    ("params", "units"): [0, -8, "wide", 1.5],
    ("params", "activation"): ["swish", 1],
    ("params", "dropout"): [1.0, -0.1, "half"],
    ("params", "optimizer"): ["lion", "Adam", None],
    ("params", "lr"): [0, -1e-3, "fast", 1e9],
    ("params", "batch_size"): [0, -1, 2.5],
    ("params", "epochs"): [0, -3, "ten"],
    ("params", "momentum"): [1.0, -0.5],
    ("search", "strategy"): ["bayes", "Grid", 3],
    ("search", "trials"): [0, -1, "all"],
    ("search", "space"): ["lr", [1, 2], 5],
    ("search", "space", "lr"): [
        {"low": -1, "high": 1},
        {"low": 1, "high": 0.1},
        {"low": 0, "high": 1, "log": True},
        {"low": 1e-3},
        [],
        5,
    ],
    ("search", "space", "units"): [[0, 4], [], ["x"], {"low": 2.5, "high": 8}],
    ("search", "configs"): [[{"lr": -1}], [{"nope": 1}], "x"],
    ("track", "tensorboard"): ["yes", 2],
}


def _set(raw: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = raw
    for key in path[:-1]:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    if value is None:
        node.pop(path[-1], None)
        node["unknown_" + path[-1]] = 1
    else:
        node[path[-1]] = value


def _copy() -> dict[str, Any]:
    return tomllib.loads(tomli_w.dumps(BASE))


@st.composite
def malformed(draw: st.DrawFn) -> str:
    raw = _copy()
    kind = draw(st.sampled_from(["value", "value", "value", "unknown", "missing", "text"]))
    if kind == "value":
        for _ in range(draw(st.integers(1, 3))):
            path = draw(st.sampled_from(sorted(BAD_VALUES)))
            _set(raw, path, draw(st.sampled_from(BAD_VALUES[path])))
    elif kind == "unknown":
        section = draw(st.sampled_from(["study", "data", "params", "search", "track", None]))
        key = draw(st.from_regex(r"[a-z]{2,12}", fullmatch=True))
        (raw if section is None else raw[section])[key + "_x"] = draw(st.integers())
    elif kind == "missing":
        raw["study"].pop("name")
    text = tomli_w.dumps(raw)
    if kind == "text":
        cut = draw(st.integers(0, len(text) - 1))
        junk = draw(st.sampled_from(["[", "=", '"', "]]", "\x00", "{", "lr = = 1"]))
        text = text[:cut] + junk + text[cut:]
    return text


def _is_valid(text: str) -> bool:
    try:
        spec = spec_from_dict(tomllib.loads(text))
    except (tomllib.TOMLDecodeError, SweeplabError, ValueError):
        return False
    return spec.data.dataset in ("iris",)


def _assert_clean_exit_2(result: Any, runs: Path) -> str:
    assert result.exit_code == 2, (result.exit_code, result.stderr, result.stdout)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not any(runs.glob("*")), "no half-written study directory"
    return lines[0]


@settings(
    max_examples=220,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=malformed())
def test_generated_malformed_study_files(tmp_path: Path, text: str) -> None:
    assume(not _is_valid(text))
    case = Path(tempfile.mkdtemp(dir=tmp_path))
    (case / "study.toml").write_text(text)
    runs = case / "runs"
    runs.mkdir()
    result = CliRunner().invoke(
        app, ["run", str(case / "study.toml"), "-q", "--runs-dir", str(runs)]
    )
    line = _assert_clean_exit_2(result, runs)
    assert line.startswith("error: ")


def _idx_images(n: int, magic: int = 0x00000803) -> bytes:
    pixels = np.random.default_rng(0).integers(0, 255, (n, 28, 28), dtype=np.uint8)
    return struct.pack(">IIII", magic, n, 28, 28) + pixels.tobytes()


def _idx_labels(n: int, classes: int = 10) -> bytes:
    labels = (np.arange(n) % classes).astype(np.uint8)
    return struct.pack(">II", 0x00000801, n) + labels.tobytes()


def _idx_dir(root: Path, train: tuple[bytes, bytes], test: tuple[bytes, bytes]) -> Path:
    root.mkdir(parents=True)
    files = {
        "train-images-idx3-ubyte.gz": train[0],
        "train-labels-idx1-ubyte.gz": train[1],
        "t10k-images-idx3-ubyte.gz": test[0],
        "t10k-labels-idx1-ubyte.gz": test[1],
    }
    for name, payload in files.items():
        (root / name).write_bytes(gzip.compress(payload))
    return root


GOOD_TRAIN = (_idx_images(200), _idx_labels(200))
GOOD_TEST = (_idx_images(50), _idx_labels(50))


def _corpus(tmp: Path) -> dict[str, tuple[dict[str, Any], str]]:
    """Corrupt data files, each with the data table that points at it and the words expected."""
    tmp.mkdir(parents=True, exist_ok=True)
    out: dict[str, tuple[dict[str, Any], str]] = {}

    def idx(name: str, train: tuple[bytes, bytes], test: tuple[bytes, bytes], expect: str) -> None:
        folder = _idx_dir(tmp / name, train, test)
        out[name] = ({"dataset": "mnist", "path": str(folder)}, expect)

    idx("truncated", (_idx_images(200)[:-100], GOOD_TRAIN[1]), GOOD_TEST, "train-images")
    idx("wrong-magic", (_idx_images(200, magic=0x00000999), GOOD_TRAIN[1]), GOOD_TEST, "magic")
    idx("count-mismatch", (GOOD_TRAIN[0], _idx_labels(150)), GOOD_TEST, "200")
    idx(
        "labels-out-of-range",
        (GOOD_TRAIN[0], _idx_labels(200, classes=10)[:-1] + b"\xff"),
        GOOD_TEST,
        "label",
    )
    notgz = _idx_dir(tmp / "not-gzip", GOOD_TRAIN, GOOD_TEST)
    (notgz / "train-labels-idx1-ubyte.gz").write_bytes(b"this is not gzip at all")
    out["not-gzip"] = ({"dataset": "mnist", "path": str(notgz)}, "train-labels")

    def csv(name: str, text: str, expect: str, target: str = "y") -> None:
        path = tmp / f"{name}.csv"
        path.write_text(text)
        out[name] = ({"dataset": "csv", "path": str(path), "target": target}, expect)

    rows = "\n".join(f"{i % 7},{i % 5},{i % 3}" for i in range(60))
    csv("missing-target", "a,b,c\n" + rows, "y")
    csv("strings", "a,b,y\n" + "\n".join(f"{i},x{i},{i % 3}" for i in range(60)), "b")
    csv(
        "nan",
        "a,b,y\n" + "\n".join(f"{i},{'nan' if i == 7 else i},{i % 3}" for i in range(60)),
        "b",
    )
    csv("single-class", "a,b,y\n" + "\n".join(f"{i},{i},1" for i in range(60)), "class")
    csv("empty", "", "csv")
    out["missing-file"] = (
        {"dataset": "csv", "path": str(tmp / "nope.csv"), "target": "y"},
        "nope.csv",
    )
    return out


@pytest.mark.parametrize(
    "case",
    [
        "truncated",
        "wrong-magic",
        "count-mismatch",
        "labels-out-of-range",
        "not-gzip",
        "missing-target",
        "strings",
        "nan",
        "single-class",
        "empty",
        "missing-file",
    ],
)
def test_corrupt_data_files(tmp_path: Path, case: str) -> None:
    data, expect = _corpus(tmp_path / "corpus")[case]
    raw = _copy()
    raw["data"] = {**data, "split": [0.7, 0.1, 0.2]}
    study = tmp_path / "study.toml"
    study.write_text(tomli_w.dumps(raw))
    runs = tmp_path / "runs"
    runs.mkdir()
    result = CliRunner().invoke(app, ["run", str(study), "-q", "--runs-dir", str(runs)])
    line = _assert_clean_exit_2(result, runs)
    assert expect.lower() in line.lower(), line
