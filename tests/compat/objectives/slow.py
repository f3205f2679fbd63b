"""A quadratic that takes a while per trial, for kill-and-resume tests."""

import time


def objective(trial):
    x = trial.suggest_float("x", -10, 10)
    time.sleep(0.4)
    return (x - 2) ** 2
