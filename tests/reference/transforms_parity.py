"""torchvision's tensor transforms on images Backbones decoded, for the transform parity tests.

Usage: /usr/bin/python3 transforms_parity.py IN.pth CASES.json OUT.pth

IN.pth maps an image name to a C x H x W tensor (uint8, or float in [0, 1]). CASES.json is a list of
{"name", "image", "resize", "crop", "interpolation": "bilinear"|"bicubic", "antialias": bool, "mean": [..], "std": [..]}
and, under "sizes", [[h, w, size], ...]. For each case OUT.pth holds what torchvision 0.14's functional transforms give:
F.normalize(F.convert_image_dtype(F.center_crop(F.resize(img, [resize], interpolation, antialias=antialias), [crop]),
torch.float), mean, std) -- the ImageClassification preset's steps -- and under "sizes" the output size
torchvision's F.resize computes for each [h, w, size] (as an int64 N x 2 tensor).
"""
import json
import sys

import torch
from torchvision.transforms import InterpolationMode
from torchvision.transforms import functional as F


def main():
    images = torch.load(sys.argv[1])
    spec = json.load(open(sys.argv[2]))
    out = {}
    for case in spec["cases"]:
        img = images[case["image"]]
        mode = InterpolationMode.BICUBIC if case["interpolation"] == "bicubic" else InterpolationMode.BILINEAR
        x = F.resize(img, [case["resize"]], interpolation=mode, antialias=case["antialias"])
        x = F.center_crop(x, [case["crop"]])
        x = F.convert_image_dtype(x, torch.float)
        out[case["name"]] = F.normalize(x, mean=case["mean"], std=case["std"])
    sizes = []
    for h, w, size in spec["sizes"]:
        sizes.append(list(F.resize(torch.zeros(1, h, w, dtype=torch.uint8), [size]).shape[1:]))
    out["sizes"] = torch.tensor(sizes, dtype=torch.int64)
    torch.save(out, sys.argv[3])


if __name__ == "__main__":
    main()
