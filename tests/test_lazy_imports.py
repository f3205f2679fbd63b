"""The command line starts without the heavy libraries; built-in sets load without scikit-learn.

Checked by what a fresh interpreter has in ``sys.modules``, not by timing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

import sweeplab

SRC = str(Path(sweeplab.__file__).resolve().parents[1])
HEAVY = ("torch", "sklearn", "pandas", "matplotlib", "scipy", "optuna", "wandb", "mlflow")


def _loaded_after(code: str, env: dict[str, str] | None = None) -> set[str]:
    """The heavy top-level modules a fresh interpreter holds after running ``code``."""
    names = "sorted({m.split('.')[0] for m in sys.modules})"
    probe = f"{code}\nimport sys, json\nprint(json.dumps({names}))"
    path = os.pathsep.join(p for p in (SRC, os.environ.get("PYTHONPATH")) if p)
    res = subprocess.run(
        [sys.executable, "-c", probe],
        env={**os.environ, **(env or {}), "PYTHONPATH": path},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    return set(json.loads(res.stdout.splitlines()[-1])) & set(HEAVY)


def test_importing_the_cli_imports_no_heavy_library() -> None:
    assert _loaded_after("import sweeplab.cli") == set()


def test_help_imports_no_heavy_library() -> None:
    code = (
        "import sys\nfrom sweeplab.cli import app\nsys.argv = ['sweeplab', '--help']\n"
        "try:\n    app()\nexcept SystemExit:\n    pass"
    )
    assert _loaded_after(code) == set()


def test_the_study_loop_loads_neither_scipy_nor_the_analysis() -> None:
    """`sweeplab run` needs the loop, the engine and the store; scipy (1.3 s to import)
    comes with the analysis and W&B's distributions only where they are used, pandas
    with tabular data, scikit-learn with cross-validation folds."""
    code = "import sweeplab.study, sweeplab.cli._inputs, sweeplab.backends"
    loaded = _loaded_after(code)
    assert "torch" in loaded
    assert not loaded & {"scipy", "pandas", "sklearn", "matplotlib"}
    assert "sweeplab.analysis" not in _modules_after(code)


def _modules_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(sorted(sys.modules)))"
    path = os.pathsep.join(p for p in (SRC, os.environ.get("PYTHONPATH")) if p)
    res = subprocess.run(
        [sys.executable, "-c", probe],
        env={**os.environ, "PYTHONPATH": path},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    return set(res.stdout.split())


def test_the_public_api_is_still_there() -> None:
    code = "import sweeplab\nsweeplab.run, sweeplab.load_study, sweeplab.load_spec"
    assert "torch" in _loaded_after(code), "the API imports the library on first use"
    assert callable(sweeplab.run)
    assert callable(sweeplab.load_study)
    assert sweeplab.__version__


def test_sklearn_sets_load_from_the_cache_without_scikit_learn(tmp_path: Path) -> None:
    from sweeplab.data import load_dataset

    first = load_dataset("iris", cache_dir=tmp_path, seed=4)
    assert list((tmp_path / "sklearn").glob("iris-*.npz")), "the first load caches the arrays"
    code = (
        "import numpy as np, pathlib\nfrom sweeplab.data._registry import load_raw\n"
        f"cache = pathlib.Path({str(tmp_path)!r})\n"
        "raw = load_raw('iris', path=None, target=None, cache_dir=cache)\n"
        f"np.save({str(tmp_path / 'x.npy')!r}, raw.x)\nprint(raw.source, raw.classes)"
    )
    assert "sklearn" not in _loaded_after(code)
    from sklearn.datasets import load_iris

    assert np.array_equal(np.load(tmp_path / "x.npy"), load_iris().data)
    again = load_dataset("iris", cache_dir=tmp_path, seed=4)
    assert again.classes == first.classes == ("setosa", "versicolor", "virginica")
    assert again.source == first.source == "sklearn:iris"
    assert again.fingerprint == first.fingerprint


def test_a_broken_cache_falls_back_to_scikit_learn(tmp_path: Path) -> None:
    from sweeplab.data import load_dataset

    good = load_dataset("wine", cache_dir=tmp_path)
    (cached,) = (tmp_path / "sklearn").glob("wine-*.npz")
    cached.write_bytes(b"not a zip file")
    assert load_dataset("wine", cache_dir=tmp_path).fingerprint == good.fingerprint


def test_status_imports_neither_numpy_nor_a_heavy_library(tmp_path: Path) -> None:
    """``sweeplab status`` ranks and prints from the index with the standard library:
    at 10,000 trials importing numpy was a tenth of its time."""
    from sweeplab.store import StudyDir, TrialRecord, write_json, write_text
    from tests.conftest import make_spec

    folder = StudyDir(tmp_path / "small")
    write_text(folder.spec_file, make_spec("small", study={"repeats": 2}).to_toml())
    write_json(folder.provenance, {"data": {"name": "iris", "n_val": 15}})
    for n in range(4):  # two configurations, two seeds each: the ranking's repeat path
        folder.write_trial(
            TrialRecord(
                number=n,
                state="complete",
                params={"units": 8, "lr": 1e-2 * (1 + n // 2)},
                seed=n,
                point_key=f"p{n // 2}#{n % 2}",
                objective=0.5 + 0.1 * n,
                val={"accuracy": 0.5 + 0.1 * n},
                n_val=15,
            ),
            [],
            None,
        )
    code = (
        "import sys\nfrom sweeplab.cli import app\n"
        f"sys.argv = ['sweeplab', 'status', {str(folder.root)!r}]\n"
        "try:\n    app()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code"
    )
    names = "sorted({m.split('.')[0] for m in sys.modules})"
    path = os.pathsep.join(p for p in (SRC, os.environ.get("PYTHONPATH")) if p)
    res = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport json\nprint(json.dumps({names}))"],
        env={**os.environ, "PYTHONPATH": path},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert "small" in res.stdout
    assert set(json.loads(res.stdout.splitlines()[-1])) & {*HEAVY, "numpy"} == set()


def test_a_cached_built_in_set_is_split_without_scikit_learn_or_pandas(tmp_path: Path) -> None:
    """The stratified split is written out (equal to scikit-learn's, tests/data), so a
    cached built-in set loads and splits with numpy and torch alone."""
    from sweeplab.data import load_dataset

    load_dataset("iris", cache_dir=tmp_path, seed=4)  # fills the cache
    code = (
        "import pathlib\nfrom sweeplab.data import load_dataset\n"
        f"ds = load_dataset('iris', cache_dir=pathlib.Path({str(tmp_path)!r}), seed=4)\n"
        "assert ds.n_train > 0"
    )
    assert not _loaded_after(code) & {"sklearn", "pandas", "scipy"}
