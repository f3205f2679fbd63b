"""Optuna's basic quadratic example, unmodified but for a short sleep so workers overlap."""

import time


def objective(trial):
    x = trial.suggest_float("x", -10, 10)
    time.sleep(0.05)
    return (x - 2) ** 2
