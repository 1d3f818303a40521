"""One more training step in PyTorch from a checkpoint Backbones' fine-tuner wrote, for the checkpoint test.

Usage: /usr/bin/python3 training_step.py FOLDER
Reads FOLDER/last.pth with torch.load, builds torchvision's resnet18 with as many classes as the
checkpoint, loads 'model', builds torch.optim.SGD over the groups Backbones uses (head = fc.*, then backbone = the rest
in named_parameters order) and loads 'optimizer' into it; sets each group's lr to initial_lr x FACTOR (FOLDER/config.json
{"factor": f}); runs one train-mode step on FOLDER/batch.pth {'images', 'labels'} with cross-entropy; writes the model's
state dict to FOLDER/after.pth and prints JSON facts about the checkpoint.
"""
import json
import os
import sys

import torch
import torchvision


def main():
    folder = sys.argv[1]
    checkpoint = torch.load(os.path.join(folder, "last.pth"))
    config = json.load(open(os.path.join(folder, "config.json")))
    batch = torch.load(os.path.join(folder, "batch.pth"))
    classes = checkpoint["model"]["fc.weight"].shape[0]
    model = torchvision.models.resnet18(num_classes=classes)
    model.load_state_dict(checkpoint["model"])
    named = list(model.named_parameters())
    head = [p for n, p in named if n.startswith("fc.")]
    backbone = [p for n, p in named if not n.startswith("fc.")]
    optimizer = torch.optim.SGD([{"params": head}, {"params": backbone}], lr=1.0, momentum=0.0)
    optimizer.load_state_dict(checkpoint["optimizer"])
    for group in optimizer.param_groups:
        group["lr"] = group["initial_lr"] * config["factor"]
    buffers_fit = all(optimizer.state[p]["momentum_buffer"].shape == p.shape for p in head + backbone if p in optimizer.state)
    model.train()
    optimizer.zero_grad()
    loss = torch.nn.functional.cross_entropy(model(batch["images"]), batch["labels"])
    loss.backward()
    optimizer.step()
    torch.save(model.state_dict(), os.path.join(folder, "after.pth"))
    print(json.dumps({
        "epoch": checkpoint["epoch"],
        "metrics": len(checkpoint["metrics"]),
        "groups": [g.get("name") for g in optimizer.param_groups],
        "momentum": [g["momentum"] for g in optimizer.param_groups],
        "states": len(optimizer.state),
        "buffers_fit": buffers_fit,
        "loss": loss.item(),
    }))


if __name__ == "__main__":
    main()
