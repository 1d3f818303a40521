"""Every module call of torchvision models in one forward, for Backbones' module graph tests.

Usage: /usr/bin/python3 module_calls.py OUT.json MODEL@SIZE [MODEL@SIZE ...]

For each MODEL (a torchvision.models builder name, weights=None, eval mode) runs one forward of a 1x3xSIZExSIZE input
with a forward hook on every named module and writes OUT.json:
  {MODEL: [{"path": module path, "leaf": has no children, "shape": output shape}, ...]}
one entry per call, in the order the hooks fire (a module called three times, like ResNet's relu, appears three times).
"""
import json
import sys

import torch
import torchvision


def calls(name, size):
    model = torchvision.models.__dict__[name](weights=None).eval()
    seen = []
    for path, module in model.named_modules():
        if path == "":
            continue
        leaf = len(list(module.children())) == 0
        module.register_forward_hook(
            lambda m, inputs, output, path=path, leaf=leaf: seen.append({"path": path, "leaf": leaf, "shape": list(output.shape)}))
    with torch.no_grad():
        model(torch.zeros(1, 3, size, size))
    return seen


def main():
    out, specs = sys.argv[1], sys.argv[2:]
    result = {}
    for spec in specs:
        name, size = spec.split("@")
        result[name] = calls(name, int(size))
    with open(out, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
