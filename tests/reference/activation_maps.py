"""Reference activation maps with PyTorch for the cam tests: Grad-CAM numbers, and channel-mean overlays compared with
the PNGs Backbones wrote.

Usage:
  /usr/bin/python3 activation_maps.py gradcam OUTDIR MODEL --size S --layer L [--class C]
      Random weights (seed 0, BatchNorm randomised as model_parity.py does) to OUTDIR/MODEL.pth, a random input
      1 x 3 x S x S, and Grad-CAM at module L: the hook keeps L's output A and lets the network go on from a copy;
      g = d logit[C] / dA (C: the top class if not given), w = mean of g over positions, cam = relu(sum_k w_k A_k),
      bilinear (align_corners=False) to S x S, then (cam - min) / (max - min). Writes OUTDIR/gradcam.pth
      {"input", "cam", "class", "score"}.
  /usr/bin/python3 activation_maps.py mean WEIGHTS MODEL IMAGE --resize R --crop C PNG_FOLDER LAYER...
      The picture the model sees: read_image(IMAGE, RGB), F.resize([R], bilinear, antialias=True), F.center_crop([C]);
      for each LAYER the output's channel mean, bilinear to C x C, scaled to [0, 1], coloured with matplotlib's jet
      (its 256-entry table built from matplotlib's _jet_data the way LinearSegmentedColormap does; index
      min(int(v * 256), 255); bytes = int(lut * 255)) and blended round(0.6 * image + 0.4 * colour). Compares with
      PNG_FOLDER/NN-LAYER.png read by PIL and prints JSON {"jet": 256 x 3, "layers": {LAYER: {"max_diff", "differing"}}}.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
import torchvision
from PIL import Image
from torchvision.io import ImageReadMode, read_image
from torchvision.transforms import InterpolationMode
from torchvision.transforms import functional as F

from model_parity import randomise_batchnorm

# matplotlib/_cm.py, _jet_data: (x, y0, y1) per component.
JET_DATA = {
    "red": ((0.00, 0, 0), (0.35, 0, 0), (0.66, 1, 1), (0.89, 1, 1), (1.00, 0.5, 0.5)),
    "green": ((0.000, 0, 0), (0.125, 0, 0), (0.375, 1, 1), (0.640, 1, 1), (0.910, 0, 0), (1.000, 0, 0)),
    "blue": ((0.00, 0.5, 0.5), (0.11, 1, 1), (0.34, 1, 1), (0.65, 0, 0), (1.00, 0, 0)),
}


def lookup_table(n, data):
    """matplotlib.colors._create_lookup_table with gamma 1."""
    adata = np.array(data)
    x, y0, y1 = adata[:, 0] * (n - 1), adata[:, 1], adata[:, 2]
    xind = (n - 1) * np.linspace(0, 1, n)
    ind = np.searchsorted(x, xind)[1:-1]
    distance = (xind[1:-1] - x[ind - 1]) / (x[ind] - x[ind - 1])
    lut = np.concatenate([[y1[0]], distance * (y0[ind] - y1[ind - 1]) + y1[ind - 1], [y0[-1]]])
    return np.clip(lut, 0.0, 1.0)


def jet_bytes():
    lut = np.stack([lookup_table(256, JET_DATA[c]) for c in ("red", "green", "blue")], axis=1)
    return (lut * 255).astype(np.uint8)


def scaled(m, size):
    up = torch.nn.functional.interpolate(m, size=size, mode="bilinear", align_corners=False)[0, 0]
    low, high = up.min(), up.max()
    return (up - low) / (high - low) if high > low else torch.zeros_like(up)


def gradcam(a):
    torch.manual_seed(0)
    model = getattr(torchvision.models, a.model)(weights=None)
    randomise_batchnorm(model)
    model.eval()
    torch.save(model.state_dict(), os.path.join(a.outdir, a.model + ".pth"))
    x = torch.randn(1, 3, a.size, a.size)
    kept = {}

    def hook(module, inputs, output):
        kept["a"] = output
        return output.clone()

    handle = dict(model.named_modules())[a.layer].register_forward_hook(hook)
    logits = model(x)
    handle.remove()
    cls = a.cls if a.cls is not None else int(logits[0].argmax())
    score = logits[0, cls]
    activation = kept["a"]
    (grad,) = torch.autograd.grad(score, activation)
    with torch.no_grad():
        weights = grad.mean(dim=(2, 3), keepdim=True)
        cam = torch.relu((weights * activation).sum(1, keepdim=True))
        cam = scaled(cam, (a.size, a.size))
    torch.save({"input": x, "cam": cam, "class": cls, "score": float(score)}, os.path.join(a.outdir, "gradcam.pth"))


def mean(a):
    model = getattr(torchvision.models, a.model)(weights=None)
    model.load_state_dict(torch.load(a.weights))
    model.eval()
    view = read_image(a.image, ImageReadMode.RGB)
    view = F.center_crop(F.resize(view, [a.resize], interpolation=InterpolationMode.BILINEAR, antialias=True), [a.crop])
    x = F.normalize(F.convert_image_dtype(view, torch.float), [0.485, 0.456, 0.406], [0.229, 0.224, 0.225])[None]
    outputs = {}
    modules = dict(model.named_modules())
    for layer in a.layers:
        modules[layer].register_forward_hook(lambda m, i, o, layer=layer: outputs.__setitem__(layer, o.detach().clone()))
    with torch.no_grad():
        model(x)
    jet = jet_bytes()
    picture = view.permute(1, 2, 0).numpy().astype(np.float64)
    result = {"jet": jet.tolist(), "layers": {}}
    for k, layer in enumerate(a.layers):
        v = scaled(outputs[layer].mean(1, keepdim=True), (a.crop, a.crop)).numpy()
        colour = jet[np.clip((v * 256).astype(np.int64), 0, 255)].astype(np.float64)
        expected = np.clip(np.round(0.6 * picture + 0.4 * colour), 0, 255).astype(np.int64)
        ours = np.asarray(Image.open(os.path.join(a.folder, f"{k:02d}-{layer}.png")).convert("RGB")).astype(np.int64)
        diff = np.abs(ours - expected) if ours.shape == expected.shape else None
        result["layers"][layer] = {"max_diff": None if diff is None else int(diff.max()),
                                   "differing": None if diff is None else float((diff.max(axis=2) > 0).mean())}
    print(json.dumps(result))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="command", required=True)
    g = sub.add_parser("gradcam")
    g.add_argument("outdir")
    g.add_argument("model")
    g.add_argument("--size", type=int, required=True)
    g.add_argument("--layer", required=True)
    g.add_argument("--class", dest="cls", type=int, default=None)
    m = sub.add_parser("mean")
    m.add_argument("weights")
    m.add_argument("model")
    m.add_argument("image")
    m.add_argument("--resize", type=int, required=True)
    m.add_argument("--crop", type=int, required=True)
    m.add_argument("folder")
    m.add_argument("layers", nargs="+")
    a = p.parse_args()
    gradcam(a) if a.command == "gradcam" else mean(a)


if __name__ == "__main__":
    main()
