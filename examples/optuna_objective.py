"""An unmodified Optuna objective (Optuna's sklearn example, on scikit-learn's wine).

sweeplab run --objective examples/optuna_objective.py:objective --direction maximize
"""

import sklearn.datasets
import sklearn.ensemble
import sklearn.model_selection
import sklearn.svm


def objective(trial):
    x, y = sklearn.datasets.load_wine(return_X_y=True)
    classifier = trial.suggest_categorical("classifier", ["SVC", "RandomForest"])
    if classifier == "SVC":
        c = trial.suggest_float("svc_c", 1e-3, 1e3, log=True)
        model = sklearn.svm.SVC(C=c, gamma="auto")
    else:
        depth = trial.suggest_int("rf_max_depth", 2, 32, log=True)
        model = sklearn.ensemble.RandomForestClassifier(max_depth=depth, n_estimators=10)
    return sklearn.model_selection.cross_val_score(model, x, y, cv=3).mean()
