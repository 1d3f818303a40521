"""Save randomly initialised torchvision model state dicts so the C# model
definitions can be checked key by key (name, dtype, shape, order) against them.

Usage: /usr/bin/python3 write_torchvision_state_dicts.py OUTDIR MODEL [MODEL...]
       e.g. ... OUTDIR resnet18 densenet121 mobilenet_v3_small

Writes OUTDIR/<model>.pth (zip format) and OUTDIR/<model>.keys.json holding
[[key, dtype, shape], ...] in state_dict order.
"""
import json
import os
import sys

import torch
import torchvision


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    outdir, names = sys.argv[1], sys.argv[2:]
    os.makedirs(outdir, exist_ok=True)
    for name in names:
        builder = getattr(torchvision.models, name, None)
        if not callable(builder):
            sys.exit(f"unknown torchvision model: {name}")
        torch.manual_seed(0)  # per model, so each file is reproducible on its own
        state = builder(weights=None).state_dict()
        torch.save(state, os.path.join(outdir, f"{name}.pth"))
        keys = [[k, str(v.dtype).replace("torch.", ""), list(v.shape)] for k, v in state.items()]
        with open(os.path.join(outdir, f"{name}.keys.json"), "w") as f:
            f.write("[\n" + ",\n".join(json.dumps(k) for k in keys) + "\n]\n")  # one key a line
        print(f"{name}: {len(keys)} tensors", file=sys.stderr)


if __name__ == "__main__":
    main()
