"""A training script in the style of W&B's argparse examples: the agent passes --key=value.

It knows nothing of sweeplab; it records what it received in its run's files.
"""

import argparse
import json
import os
import sys

import wandb

parser = argparse.ArgumentParser()
parser.add_argument("--learn_rate", type=float, default=0.5)
parser.add_argument("--layer_1_size", type=int, default=8)
parser.add_argument("--flag1", type=lambda s: s == "True", default=False)
parser.add_argument("--crash", type=lambda s: s == "True", default=False)
args = parser.parse_args()
run = wandb.init(config=vars(args))
logged = []
for epoch in range(3):
    acc = 1.0 - args.learn_rate / (epoch + 1) + 0.001 * args.layer_1_size + 0.01 * args.flag1
    wandb.log({"val_accuracy": acc, "epoch": epoch})
    logged.append(acc)
    if args.crash and epoch == 1:
        raise RuntimeError(f"boom at epoch {epoch}")
with open(os.path.join(run.dir, "received.json"), "w") as f:
    json.dump({"config": vars(args), "argv": sys.argv[1:], "logged": logged}, f)
run.finish()
