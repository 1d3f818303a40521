"""Optimizer steps with torch.optim on given weights, gradients and parameter groups, for Backbones' group tests.

Usage: /usr/bin/python3 optimizer_step.py FOLDER
Reads FOLDER/weights.pth and FOLDER/grads.pth (key -> tensor) and FOLDER/config.json:
{"optimizer": "sgd" | "adamw", "lr": base lr, "steps": N, "momentum": m (sgd),
 "groups": [{"keys": [...], "lr": ..., "weight_decay": ...}, ...]}
Builds torch.optim.SGD(momentum=m) or torch.optim.AdamW over those param groups, sets each grouped parameter's
.grad to its gradient, runs N steps with the same gradients, and writes every weight to FOLDER/after.pth.
"""
import json
import os
import sys

import torch


def main():
    folder = sys.argv[1]
    weights = torch.load(os.path.join(folder, "weights.pth"))
    grads = torch.load(os.path.join(folder, "grads.pth"))
    with open(os.path.join(folder, "config.json")) as f:
        config = json.load(f)
    params = {k: torch.nn.Parameter(v.clone()) for k, v in weights.items()}
    groups = []
    for g in config["groups"]:
        for k in g["keys"]:
            params[k].grad = grads[k].clone()
        groups.append({"params": [params[k] for k in g["keys"]], "lr": g["lr"], "weight_decay": g["weight_decay"]})
    if config["optimizer"] == "sgd":
        optimizer = torch.optim.SGD(groups, lr=config["lr"], momentum=config["momentum"])
    else:
        optimizer = torch.optim.AdamW(groups, lr=config["lr"])
    for _ in range(config["steps"]):
        optimizer.step()
    torch.save({k: p.detach() for k, p in params.items()}, os.path.join(folder, "after.pth"))


if __name__ == "__main__":
    main()
