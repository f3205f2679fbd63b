"""A training script in the style of W&B's examples: defaults in wandb.init, one log per epoch.

It knows nothing of sweeplab. It writes the config it received (and its argv)
into its run's files, so tests can compare it with the sampled config.
"""

import json
import math
import os
import sys
import time

import wandb

defaults = {"lr": 0.1, "epochs": 4, "nesterov": False, "optimizer": {"name": "sgd", "decay": 0.5}}
run = wandb.init(config=defaults)
config = wandb.config
received = {"config": dict(config), "argv": sys.argv[1:], "logged": []}
for epoch in range(config.epochs):
    # A loss that depends on every parameter, falling with the epochs.
    base = abs(math.log10(config.lr) + 2) + config.optimizer["decay"] + 0.1 * config.nesterov
    loss = base + 1.0 / (epoch + 1)
    wandb.log({"loss": loss, "epoch": epoch})
    received["logged"].append(loss)
    with open(os.path.join(run.dir, "received.json"), "w") as f:
        json.dump(received, f)
    time.sleep(float(os.environ.get("TRAIN_SLEEP", "0")))
run.finish()
