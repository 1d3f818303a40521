"""Logits of a torchvision classifier on image files, decoded and preprocessed by torchvision, for the classify tests.

Usage: /usr/bin/python3 classify_parity.py OUTDIR MODEL --resize R --crop C [--num-classes N] [--features MODULE] IMAGE...

Builds MODEL with random weights (torch.manual_seed(0), BatchNorm statistics randomised as model_parity.py does),
saves its state dict to OUTDIR/MODEL.pth, and for each IMAGE: torchvision.io.read_image(IMAGE, ImageReadMode.RGB),
F.resize([R], bilinear, antialias=True), F.center_crop([C]), F.convert_image_dtype(float), F.normalize(ImageNet mean/std),
then the model in eval mode without autograd. Writes OUTDIR/logits.pth {"logits": N x classes, and with --features
"features": that module's output, flattened to N x C} and OUTDIR/top.json:
[[[index, softmax probability], ... top 5], ...] per image.
"""
import argparse
import json
import os

import torch
import torchvision
from torchvision.io import ImageReadMode, read_image
from torchvision.transforms import InterpolationMode
from torchvision.transforms import functional as F

from model_parity import randomise_batchnorm


def main():
    p = argparse.ArgumentParser()
    p.add_argument("outdir")
    p.add_argument("model")
    p.add_argument("--resize", type=int, required=True)
    p.add_argument("--crop", type=int, required=True)
    p.add_argument("--num-classes", type=int, default=1000)
    p.add_argument("--features", default=None)
    p.add_argument("images", nargs="+")
    a = p.parse_args()
    torch.manual_seed(0)
    model = getattr(torchvision.models, a.model)(weights=None, num_classes=a.num_classes)
    randomise_batchnorm(model)
    model.eval()
    torch.save(model.state_dict(), os.path.join(a.outdir, a.model + ".pth"))

    batch = []
    for path in a.images:
        x = read_image(path, ImageReadMode.RGB)
        x = F.resize(x, [a.resize], interpolation=InterpolationMode.BILINEAR, antialias=True)
        x = F.center_crop(x, [a.crop])
        x = F.convert_image_dtype(x, torch.float)
        batch.append(F.normalize(x, mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]))
    saved = {}
    if a.features:
        dict(model.named_modules())[a.features].register_forward_hook(lambda m, i, o: saved.__setitem__("features", o.flatten(1).clone()))
    with torch.no_grad():
        logits = model(torch.stack(batch))
    torch.save({"logits": logits, **saved}, os.path.join(a.outdir, "logits.pth"))
    probabilities = torch.softmax(logits.double(), dim=1)
    values, indices = probabilities.topk(min(5, a.num_classes), dim=1)
    top = [[[int(i), float(v)] for v, i in zip(vs, ix)] for vs, ix in zip(values, indices)]
    with open(os.path.join(a.outdir, "top.json"), "w") as f:
        json.dump(top, f)


if __name__ == "__main__":
    main()
