"""In the style of Optuna's examples/multi_objective/pytorch_simple.py: size vs accuracy."""

import sklearn.datasets
import sklearn.model_selection
import torch
import torch.nn as nn
import torch.nn.functional as F


def define_model(trial):
    n_layers = trial.suggest_int("n_layers", 1, 2)
    layers = []
    in_features = 30
    for i in range(n_layers):
        out_features = trial.suggest_int(f"n_units_l{i}", 2, 64, log=True)
        layers += [nn.Linear(in_features, out_features), nn.ReLU()]
        in_features = out_features
    layers.append(nn.Linear(in_features, 2))
    return nn.Sequential(*layers)


def objective(trial):
    torch.manual_seed(0)
    x, y = sklearn.datasets.load_breast_cancer(return_X_y=True)
    x = (x - x.mean(0)) / x.std(0)
    x_train, x_valid, y_train, y_valid = sklearn.model_selection.train_test_split(
        x, y, test_size=0.3, random_state=0, stratify=y
    )
    x_train, x_valid = (torch.tensor(a, dtype=torch.float32) for a in (x_train, x_valid))
    y_train, y_valid = (torch.tensor(a, dtype=torch.long) for a in (y_train, y_valid))
    model = define_model(trial)
    lr = trial.suggest_float("lr", 1e-3, 1e-1, log=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(20):
        optimizer.zero_grad()
        F.cross_entropy(model(x_train), y_train).backward()
        optimizer.step()
    with torch.no_grad():
        accuracy = (model(x_valid).argmax(1) == y_valid).float().mean().item()
    n_params = sum(p.numel() for p in model.parameters())
    return n_params, accuracy
