"""Reference module summaries and printouts, made by real torchvision.

Usage: /usr/bin/python3 summary_reference.py OUT.json --size S --batch N MODEL...

For each torchvision model (weights=None, eval mode) run once on zeros [N, 3, S, S], writes
{name: {"calls": [{"path", "type", "output_shape", "params", "mult_adds"}...] (every module call, in call order,
                   mult-adds of leaf calls by torchinfo 1.8's rule, 0 for containers),
        "params": total parameters, "trainable": parameters that require grad,
        "repr": str(model)}}.
"""
import argparse
import json
import math

import torch
import torchvision


def leaf_mult_adds(module, output_shape):
    """torchinfo's LayerInfo.calculate_macs for a leaf: weight/bias once per output position for convolutions, per
    output row for linear layers, per sample otherwise."""
    total = 0
    name = type(module).__name__
    for pname, p in module.named_parameters():
        if pname not in ("weight", "bias"):
            continue
        if "Conv" in name:
            total += p.numel() * output_shape[0] * math.prod(output_shape[2:])
        elif "Linear" in name:
            total += p.numel() * math.prod(output_shape[:-1])
        else:
            total += p.numel() * output_shape[0]
    return total


def summarise(name, size, batch):
    model = getattr(torchvision.models, name)(weights=None).eval()
    calls = []
    handles = []
    for path, module in model.named_modules():
        leaf = not any(True for _ in module.children())

        def pre(m, args, path=path):
            calls.append({"path": path, "type": type(m).__name__,
                          "params": sum(p.numel() for p in m.parameters())})

        def post(m, args, output, leaf=leaf, path=path):
            # The last open call of this path is the one finishing (calls nest).
            call = next(c for c in reversed(calls) if c["path"] == path and "output_shape" not in c)
            call["output_shape"] = list(output.shape)
            call["mult_adds"] = leaf_mult_adds(m, list(output.shape)) if leaf else 0

        handles.append(module.register_forward_pre_hook(pre))
        handles.append(module.register_forward_hook(post))
    with torch.no_grad():
        model(torch.zeros(batch, 3, size, size))
    for h in handles:
        h.remove()
    return {"calls": calls,
            "params": sum(p.numel() for p in model.parameters()),
            "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad),
            "repr": str(model)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("models", nargs="+")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=1)
    args = parser.parse_args()
    result = {name: summarise(name, args.size, args.batch) for name in args.models}
    with open(args.out, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
