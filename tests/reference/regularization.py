"""Dropout and stochastic-depth settings of torchvision models, for Backbones' tests of those probabilities.

Usage: /usr/bin/python3 regularization.py MODEL [MODEL...] [--kwargs JSON]
Prints one JSON object: {model: [[module path, kind, p], ...]} listing every nn.Dropout (kind "dropout") and
torchvision.ops.StochasticDepth (kind: its mode, "row" or "batch") in named_modules() order. Both are the identity in eval
mode and random in train mode, so output parity cannot check these numbers.
"""
import argparse
import json

import torch
import torchvision
from torchvision.ops import StochasticDepth


def main():
    p = argparse.ArgumentParser()
    p.add_argument("models", nargs="+")
    p.add_argument("--kwargs", default="{}")
    a = p.parse_args()
    out = {}
    for name in a.models:
        model = getattr(torchvision.models, name)(weights=None, **json.loads(a.kwargs))
        out[name] = [[path, "dropout" if isinstance(m, torch.nn.Dropout) else m.mode, m.p]
                     for path, m in model.named_modules() if isinstance(m, (torch.nn.Dropout, StochasticDepth))]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
