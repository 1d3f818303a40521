"""Two checkpoints that differ in known ways, for Backbones' diff tests, made by real PyTorch.

Usage: /usr/bin/python3 diff_reference.py OUTDIR

Writes OUTDIR/a.pth (torchvision resnet18's state dict, seed 0), OUTDIR/b.pth (a copy with one key removed, one
added, one reshaped, one cast to float64 and one element changed by 0.25), OUTDIR/resnet34.pth (torchvision
resnet34's state dict), and OUTDIR/expected.json listing what differs, as computed here by PyTorch.
"""
import json
import os
import sys

import torch
import torchvision

out = sys.argv[1]
torch.manual_seed(0)
a = torchvision.models.resnet18().state_dict()
b = {k: v.clone() for k, v in a.items()}
del b["layer2.0.bn1.running_var"]
b["extra.weight"] = torch.ones(3)
b["fc.weight"] = torch.zeros(10, 512)
b["fc.bias"] = b["fc.bias"].double()
b["layer1.0.conv1.weight"][1, 2, 0, 1] += 0.25
torch.save(a, os.path.join(out, "a.pth"))
torch.save(b, os.path.join(out, "b.pth"))
torch.save(torchvision.models.resnet34().state_dict(), os.path.join(out, "resnet34.pth"))

common = [k for k in a if k in b and a[k].shape == b[k].shape]
expected = {
    "only_in_a": [k for k in a if k not in b],
    "only_in_b": [k for k in b if k not in a],
    "mismatched": [k for k in a if k in b and (a[k].shape != b[k].shape or a[k].dtype != b[k].dtype)],
    "max_abs_diff": {k: (a[k].double() - b[k].double()).abs().max().item() for k in common},
    "resnet34_only": [k for k in torchvision.models.resnet34().state_dict() if k not in a],
}
with open(os.path.join(out, "expected.json"), "w") as f:
    json.dump(expected, f)
