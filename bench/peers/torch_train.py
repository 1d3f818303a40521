"""Peer for bench/TrainBench: Debian PyTorch's training step, the recipe a
PyTorch fine-tuning script uses (SGD momentum 0.9, weight decay 1e-4,
cross-entropy, the model in train mode), on request.

It lives as long as the benchmark, so neither Python's start-up nor
`import torch` is ever timed. One JSON request a line on stdin, one JSON
answer a line on stdout (TrainBench's C# worker speaks the same protocol):

  {"op": "prepare", "model": "resnet18", "classes": 10, "dir": "..."}
    -> {"weights": ".../resnet18-10.pth"}  (random weights, a new 10-class fc)
  {"op": "load", "model": "resnet18", "classes": 10, "weights": "...",
   "input": "x.bin", "labels": "y.bin", "shape": [32, 3, 224, 224],
   "mode": "full" | "frozen"}
    -> {"loss": l0, "loss_after": l1, "with_grad": ["fc.weight", ...],
        "version": "..."}
       l0: the check batch's loss; one training step; l1: the loss again
       (no grad); with_grad: the parameters that got a gradient in that step
  {"op": "time", "what": "step" | "forward", "iters": 2}
    -> {"seconds": 1.23, "faults": 17}
       step: zero_grad, forward, loss, backward, optimizer step;
       forward: forward and loss only, with autograd recording as in a step
  {"op": "drop"} -> {}
"frozen" sets requires_grad False on everything but fc (BatchNorm stays in
train mode, as in the full run). Any failure answers {"error": "..."}.

Run with Debian's PyTorch: /usr/bin/python3 bench/peers/torch_train.py
"""
import gc
import os

import numpy as np
import torch
import torchvision

from worker_loop import measure, serve

THREADS = 2
LR, MOMENTUM, WEIGHT_DECAY = 0.01, 0.9, 1e-4
VERSION = f"PyTorch {torch.__version__}, torchvision {torchvision.__version__}"


def build(model, classes):
    net = getattr(torchvision.models, model)(weights=None)
    net.fc = torch.nn.Linear(net.fc.in_features, classes)
    return net


def prepare(model, classes, dir):
    """Random torchvision weights with a new head, once per model."""
    path = os.path.join(dir, f"{model}-{classes}.pth")
    if not os.path.exists(path):
        torch.manual_seed(0)
        os.makedirs(dir, exist_ok=True)
        torch.save(build(model, classes).state_dict(), path + ".tmp")
        os.replace(path + ".tmp", path)  # a reader never sees half a file
    return {"weights": path}


class Engine:
    def __init__(self, r):
        net = build(r["model"], int(r["classes"]))
        net.load_state_dict(torch.load(r["weights"], map_location="cpu"))
        if r["mode"] == "frozen":
            for name, p in net.named_parameters():
                p.requires_grad_(name.startswith("fc."))
        net.train()
        self.net = net
        self.optimizer = torch.optim.SGD([p for p in net.parameters() if p.requires_grad],
                                         lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)
        self.x = torch.from_numpy(np.fromfile(r["input"], dtype="<f4")).reshape(r["shape"])
        self.y = torch.from_numpy(np.fromfile(r["labels"], dtype="<i8"))

    def step(self):
        self.optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(self.net(self.x), self.y)
        loss.backward()
        self.optimizer.step()
        return loss

    def check(self):
        loss = self.step().item()
        with_grad = [n for n, p in self.net.named_parameters() if p.grad is not None]
        with torch.no_grad():
            after = torch.nn.functional.cross_entropy(self.net(self.x), self.y).item()
        return {"loss": loss, "loss_after": after, "with_grad": with_grad, "version": VERSION}

    def time(self, what, iters):
        def forward():
            torch.nn.functional.cross_entropy(self.net(self.x), self.y)
        run = self.step if what == "step" else forward
        return measure(iters, run)


def main():
    torch.set_num_threads(THREADS)
    state = {"engine": None}

    def load(r):
        state["engine"] = None  # freed before the next one is built
        gc.collect()
        state["engine"] = Engine(r)
        return state["engine"].check()

    def drop(r):
        state["engine"] = None
        gc.collect()
        return {}

    serve({"prepare": lambda r: prepare(r["model"], int(r["classes"]), r["dir"]), "load": load,
           "time": lambda r: state["engine"].time(r["what"], int(r["iters"])), "drop": drop})


if __name__ == "__main__":
    main()
