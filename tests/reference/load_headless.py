"""Load a state dict without its classifier into a fresh torchvision model, as a user of the re-saved file would.

Usage: /usr/bin/python3 load_headless.py MODEL ORIGINAL.pth HEADLESS.pth
Prints one JSON object: the missing and unexpected keys of load_state_dict(strict=False), and the keys whose
tensors differ from ORIGINAL's after loading.
"""
import json
import sys

import torch
import torchvision


def main():
    name, original, headless = sys.argv[1:4]
    model = getattr(torchvision.models, name)(weights=None)
    result = model.load_state_dict(torch.load(headless), strict=False)
    reference = torch.load(original)
    state = model.state_dict()
    differing = [k for k, v in reference.items() if k in state and k not in result.missing_keys and not torch.equal(state[k], v)]
    print(json.dumps({"missing": result.missing_keys, "unexpected": result.unexpected_keys, "differing": differing}))


if __name__ == "__main__":
    main()
