"""Reference outputs of torchvision's feature extraction and truncation, for Backbones' Transfer tests.

Usage: /usr/bin/python3 feature_extraction.py OUTDIR MODEL --size S --batch B --name STEM
       [--nodes PATH,PATH...] [--spatial children|features] [--pooled children|gap|input:PATH]

For MODEL (a torchvision.models builder name, weights=None, BatchNorm randomised as model_parity.py does) writes:
  OUTDIR/STEM.weights.pth   its state dict;
  OUTDIR/STEM.io.pth        {'input': x,
                             'nodes': {path: output} of torchvision's create_feature_extractor(model, return_nodes=nodes),
                             'spatial': the map before global pooling:
                                 children: nn.Sequential(*list(model.children())[:-2])(x) (ResNet),
                                 features: model.features(x),
                             'pooled': the pooled, flattened vector:
                                 children: nn.Sequential(*list(model.children())[:-1])(x).flatten(1) (ResNet),
                                 gap: adaptive_avg_pool2d(model.features(x), 1).flatten(1),
                                 input:PATH: what module PATH receives in a full forward, flattened}.
Everything is made by real PyTorch from torch.manual_seed(0), in eval mode without autograd.
"""
import argparse
import os
from collections import OrderedDict

import torch
import torch.nn.functional as F
import torchvision
from torchvision.models.feature_extraction import create_feature_extractor

from model_parity import randomise_batchnorm


def spatial(model, mode, x):
    if mode == "children":
        return torch.nn.Sequential(*list(model.children())[:-2])(x)
    if mode == "features":
        return model.features(x)
    raise SystemExit(f"unknown --spatial {mode}")


def pooled(model, mode, x):
    if mode == "children":
        return torch.nn.Sequential(*list(model.children())[:-1])(x).flatten(1)
    if mode == "gap":
        return F.adaptive_avg_pool2d(model.features(x), 1).flatten(1)
    if mode.startswith("input:"):
        seen = []
        module = dict(model.named_modules())[mode[len("input:"):]]
        hook = module.register_forward_pre_hook(lambda m, inputs: seen.append(inputs[0].detach().clone()))
        model(x)
        hook.remove()
        return seen[0].flatten(1)
    raise SystemExit(f"unknown --pooled {mode}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("outdir")
    p.add_argument("model")
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--name", required=True)
    p.add_argument("--nodes", default="")
    p.add_argument("--spatial", default=None)
    p.add_argument("--pooled", default=None)
    a = p.parse_args()
    torch.manual_seed(0)
    model = getattr(torchvision.models, a.model)(weights=None)
    randomise_batchnorm(model)
    model.eval()
    torch.save(model.state_dict(), os.path.join(a.outdir, a.name + ".weights.pth"))

    x = torch.randn(a.batch, 3, a.size, a.size)
    io = {"input": x}
    with torch.no_grad():
        nodes = [n for n in a.nodes.split(",") if n]
        if nodes:
            extractor = create_feature_extractor(model, return_nodes=nodes).eval()
            io["nodes"] = OrderedDict((k, v.clone()) for k, v in extractor(x).items())
        if a.spatial:
            io["spatial"] = spatial(model, a.spatial, x)
        if a.pooled:
            io["pooled"] = pooled(model, a.pooled, x)
    torch.save(io, os.path.join(a.outdir, a.name + ".io.pth"))
    print(a.name)


if __name__ == "__main__":
    main()
