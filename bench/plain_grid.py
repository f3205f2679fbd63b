"""The plain script a user writes for the 12-config Iris grid: torch + scikit-learn, no sweeplab.

``bench/scale.py`` runs it in a fresh interpreter and times it against a cold
``sweeplab run`` of the same grid (batch [2, 4] x lr [1e-3, 1e-5] x epochs [1, 3, 5],
one hidden layer of 16 units, Adam, min-max scaling, a 70/10/20 stratified split).
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from sklearn.datasets import load_iris
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import MinMaxScaler
from torch import nn


def main() -> None:
    x, y = load_iris(return_X_y=True)
    x_rest, x_test, y_rest, y_test = train_test_split(
        x, y, test_size=0.2, stratify=y, random_state=0
    )
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest, y_rest, test_size=0.125, stratify=y_rest, random_state=0
    )
    scaler = MinMaxScaler().fit(x_train)
    tensors = [
        torch.tensor(a, dtype=torch.float32)
        for a in (scaler.transform(x_train), scaler.transform(x_val), scaler.transform(x_test))
    ]
    labels = [torch.tensor(a) for a in (y_train, y_val, y_test)]
    for batch, lr, epochs in itertools.product([2, 4], [1e-3, 1e-5], [1, 3, 5]):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        loader = torch.utils.data.DataLoader(
            torch.utils.data.TensorDataset(tensors[0], labels[0]), batch_size=batch, shuffle=True
        )
        for _ in range(epochs):
            model.train()
            for xb, yb in loader:
                loss = F.cross_entropy(model(xb), yb)
                opt.zero_grad()
                loss.backward()
                opt.step()
            with torch.no_grad():
                model.eval()
                val = (model(tensors[1]).argmax(1) == labels[1]).float().mean().item()
        with torch.no_grad():
            test = (model(tensors[2]).argmax(1) == labels[2]).float().mean().item()
        print(f"batch={batch} lr={lr:g} epochs={epochs}: val {val:.3f} test {test:.3f}")


if __name__ == "__main__":
    main()
