"""Bring your own: unmodified Optuna objectives and W&B sweep files."""

from sweeplab.compat._load import load_callable
from sweeplab.compat._objective import directions_of, objective_spec, run_objective
from sweeplab.compat._status import pareto_front
from sweeplab.compat._wandb import DISTRIBUTIONS, SweepConfig, load_sweep, sweep_spec

__all__ = [
    "DISTRIBUTIONS",
    "SweepConfig",
    "directions_of",
    "load_callable",
    "load_sweep",
    "objective_spec",
    "pareto_front",
    "run_objective",
    "sweep_spec",
]
