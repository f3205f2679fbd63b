"""In the style of Optuna's examples/pytorch/pytorch_simple.py: an MLP with pruning (digits)."""

import optuna
import sklearn.datasets
import sklearn.model_selection
import torch
import torch.nn as nn
import torch.nn.functional as F

EPOCHS = 6
BATCHSIZE = 64


def define_model(trial):
    n_layers = trial.suggest_int("n_layers", 1, 2)
    layers = []
    in_features = 64
    for i in range(n_layers):
        out_features = trial.suggest_int(f"n_units_l{i}", 4, 64, log=True)
        layers.append(nn.Linear(in_features, out_features))
        layers.append(nn.ReLU())
        p = trial.suggest_float(f"dropout_l{i}", 0.0, 0.5)
        layers.append(nn.Dropout(p))
        in_features = out_features
    layers.append(nn.Linear(in_features, 10))
    return nn.Sequential(*layers)


def get_digits():
    x, y = sklearn.datasets.load_digits(return_X_y=True)
    x_train, x_valid, y_train, y_valid = sklearn.model_selection.train_test_split(
        x / 16.0, y, test_size=0.25, random_state=0, stratify=y
    )
    as_x = lambda a: torch.tensor(a, dtype=torch.float32)  # noqa: E731
    as_y = lambda a: torch.tensor(a, dtype=torch.long)  # noqa: E731
    return as_x(x_train), as_y(y_train), as_x(x_valid), as_y(y_valid)


def objective(trial):
    torch.manual_seed(trial.number)
    model = define_model(trial)
    optimizer_name = trial.suggest_categorical("optimizer", ["Adam", "RMSprop", "SGD"])
    lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
    optimizer = getattr(torch.optim, optimizer_name)(model.parameters(), lr=lr)
    x_train, y_train, x_valid, y_valid = get_digits()

    for epoch in range(EPOCHS):
        model.train()
        perm = torch.randperm(len(x_train))
        for start in range(0, len(x_train), BATCHSIZE):
            idx = perm[start : start + BATCHSIZE]
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x_train[idx]), y_train[idx])
            loss.backward()
            optimizer.step()

        model.eval()
        with torch.no_grad():
            accuracy = (model(x_valid).argmax(1) == y_valid).float().mean().item()

        trial.report(accuracy, epoch)
        if trial.should_prune():
            raise optuna.exceptions.TrialPruned()

    return accuracy
