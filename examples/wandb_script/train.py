"""A training script as W&B's examples write them: argparse defaults, wandb.init, wandb.log per epoch.

It knows nothing of sweeplab: `wandb agent` or `sweeplab run sweep.yaml` can run it.
"""

import argparse

import numpy as np
import wandb
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

parser = argparse.ArgumentParser()
parser.add_argument("--learning_rate", type=float, default=0.01)
parser.add_argument("--alpha", type=float, default=1e-4)
parser.add_argument("--epochs", type=int, default=10)
args = parser.parse_args()

run = wandb.init(config=vars(args))
config = wandb.config
x, y = load_breast_cancer(return_X_y=True)
x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=0.3, random_state=0, stratify=y)
scaler = StandardScaler().fit(x_train)
x_train, x_val = scaler.transform(x_train), scaler.transform(x_val)
model = SGDClassifier(
    loss="log_loss", alpha=config.alpha, learning_rate="constant", eta0=config.learning_rate,
    random_state=0,
)  # fmt: skip
for epoch in range(config.epochs):
    model.partial_fit(x_train, y_train, classes=np.array([0, 1]))
    proba = np.clip(model.predict_proba(x_val), 1e-7, 1 - 1e-7)
    wandb.log(
        {
            "epoch": epoch,
            "val_loss": log_loss(y_val, proba),
            "val_accuracy": accuracy_score(y_val, model.predict(x_val)),
        }
    )
run.finish()
