"""Optuna's constrained quadratic example (``basic/quadratic_constraint.py``), in its own words.

Minimize ``x**2 + y`` subject to ``c1 = 3xy + 10 <= 0`` and ``c2 = xy + 30 <= 0``:
the unconstrained optimum (x near 0) is infeasible; feasible trials need
``x * y <= -30``, so the best feasible value is about 30**2 - 1 = 899.
``objective_with_attr`` stores the same constraints as a user attr, as
Optuna's NSGA-II and FAQ examples do.
"""


def objective(trial):
    x = trial.suggest_float("x", -100, 100)
    y = trial.suggest_categorical("y", [-1, 0, 1])
    return x**2 + y


def constraints(trial):
    params = trial.params
    x, y = params["x"], params["y"]
    c1 = 3 * x * y + 10
    c2 = x * y + 30
    return c1, c2


def objective_with_attr(trial):
    x = trial.suggest_float("x", -100, 100)
    y = trial.suggest_categorical("y", [-1, 0, 1])
    trial.set_user_attr("constraint", (3 * x * y + 10, x * y + 30))
    return x**2 + y


def objective_set_constraint(trial):
    """Optuna 5's own way: the objective sets its constraints on the trial."""
    x = trial.suggest_float("x", -100, 100)
    y = trial.suggest_categorical("y", [-1, 0, 1])
    trial.set_constraint("c1", 3 * x * y + 10)
    trial.set_constraint("c2", x * y + 30)
    return x**2 + y
