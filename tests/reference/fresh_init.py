"""Freshly constructed torchvision models' state dicts, for Backbones' test that construction draws the same numbers.

Usage: /usr/bin/python3 fresh_init.py SEED OUT_DIR MODEL [MODEL...]
For each MODEL: torch.manual_seed(SEED), then torchvision.models.MODEL(weights=None), whose constructors' reset_parameters
and family initialisation loop draw from the global generator in construction and named_modules() order; the state
dict is saved as OUT_DIR/MODEL.pth.
"""
import os
import sys

import torch
import torchvision


def main():
    seed, out_dir, models = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    for name in models:
        torch.manual_seed(seed)
        model = getattr(torchvision.models, name)(weights=None)
        torch.save(model.state_dict(), os.path.join(out_dir, name + ".pth"))


if __name__ == "__main__":
    main()
