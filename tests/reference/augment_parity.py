"""torchvision's functional augmentations with given parameters, for the augmentation parity tests.

Usage: /usr/bin/python3 augment_parity.py IN.pth CASES.json OUT.pth

IN.pth maps an image name to a tensor ([N x] C x H x W, uint8 or float in [0, 1]). CASES.json is a list of cases
{"name", "op", "image", ...}; OUT.pth maps each name to what torchvision 0.14 gives:
  resized_crop  F.resized_crop(img, top, left, height, width, size, interpolation, antialias=antialias)
  hflip         F.hflip(img)
  brightness / contrast / saturation / hue   F.adjust_<op>(img, factor)
  grayscale     F.rgb_to_grayscale(img)
  chain         the training recipe with its random draws given: F.resized_crop (box, size, bilinear, antialias),
                F.convert_image_dtype(float), F.hflip if flip, the colour adjustments in "order" (0 brightness,
                1 contrast, 2 saturation, 3 hue; a null factor skipped, as ColorJitter does), F.normalize(mean, std)
  fallback      RandomResizedCrop.get_params on a height x width image with the given scale and ratio, as an int64
                tensor [i, j, h, w] (scales above 1 make every try miss, so this is the central fallback crop)
A resized_crop of a uint8 image also gives NAME/unrounded: the same crop of the image as float32 (0..255), which is
what torchvision rounds to get the uint8 result, so the test can tell a rounding tie from a real difference.
"""
import json
import sys

import torch
from torchvision.transforms import InterpolationMode, RandomResizedCrop
from torchvision.transforms import functional as F

MODES = {"bilinear": InterpolationMode.BILINEAR, "bicubic": InterpolationMode.BICUBIC}
ADJUST = {0: "brightness", 1: "contrast", 2: "saturation", 3: "hue"}


def adjust(img, op, factor):
    return getattr(F, f"adjust_{op}")(img, factor)


def run(case, images):
    op = case["op"]
    if op == "fallback":
        i, j, h, w = RandomResizedCrop.get_params(torch.zeros(1, case["height"], case["width"]), case["scale"], case["ratio"])
        return torch.tensor([i, j, h, w], dtype=torch.int64)
    img = images[case["image"]]
    if op == "resized_crop":
        return F.resized_crop(img, case["top"], case["left"], case["height"], case["width"], case["size"],
                              interpolation=MODES[case["interpolation"]], antialias=case["antialias"])
    if op == "hflip":
        return F.hflip(img)
    if op == "grayscale":
        return F.rgb_to_grayscale(img)
    if op in ADJUST.values():
        return adjust(img, op, case["factor"])
    if op == "chain":
        top, left, height, width = case["box"]
        x = F.resized_crop(img, top, left, height, width, case["size"], interpolation=MODES[case["interpolation"]], antialias=True)
        x = F.convert_image_dtype(x, torch.float)
        if case["flip"]:
            x = F.hflip(x)
        for index in case["order"]:
            factor = case[ADJUST[index]]
            if factor is not None:
                x = adjust(x, ADJUST[index], factor)
        return F.normalize(x, mean=case["mean"], std=case["std"])
    raise ValueError(f"unknown op {op}")


def main():
    images = torch.load(sys.argv[1])
    cases = json.load(open(sys.argv[2]))
    out = {}
    for case in cases:
        out[case["name"]] = run(case, images)
        if case["op"] == "resized_crop" and images[case["image"]].dtype == torch.uint8:
            out[case["name"] + "/unrounded"] = run(case, {case["image"]: images[case["image"]].to(torch.float32)})
    torch.save(out, sys.argv[3])


if __name__ == "__main__":
    main()
