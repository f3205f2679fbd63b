"""Training functions a W&B sweep names with ``program: train_fn.py:<function>``."""

import numpy as np
import sklearn.datasets
import sklearn.linear_model
import sklearn.metrics
import sklearn.model_selection
import sklearn.preprocessing


def train(config):
    """SGD logistic regression on breast cancer; yields metrics per epoch (W&B-log style)."""
    x, y = sklearn.datasets.load_breast_cancer(return_X_y=True)
    x_train, x_val, y_train, y_val = sklearn.model_selection.train_test_split(
        x, y, test_size=0.3, random_state=0, stratify=y
    )
    scaler = sklearn.preprocessing.StandardScaler().fit(x_train)
    x_train, x_val = scaler.transform(x_train), scaler.transform(x_val)
    model = sklearn.linear_model.SGDClassifier(
        loss=config.optimizer.loss,
        alpha=config["alpha"],
        learning_rate="constant",
        eta0=config.optimizer.learning_rate,
        random_state=0,
    )
    for _ in range(config.epochs):
        model.partial_fit(x_train, y_train, classes=np.array([0, 1]))
        proba = np.clip(model.predict_proba(x_val), 1e-7, 1 - 1e-7)
        yield {
            "val_loss": sklearn.metrics.log_loss(y_val, proba),
            "val_accuracy": sklearn.metrics.accuracy_score(y_val, model.predict(x_val)),
        }


def echo(config):
    """Returns a loss computed from every numeric value, so each one is used."""
    numeric = [v for v in config.values() if isinstance(v, (int, float))]
    return {"loss": float(sum(abs(v) for v in numeric))}
