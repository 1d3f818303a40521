"""PyTorch's own ONNX export of a torchvision model, for comparing Backbones' export with it under ONNX Runtime.

Usage: /usr/bin/python3 torch_onnx_export.py OUTDIR MODEL --size S --batch B [--opset N]

Builds torchvision.models.MODEL(weights=None) from torch.manual_seed(0), randomises every BatchNorm's affine parameters
and running statistics (so eval-mode normalisation, and folding it, matter), and writes:
  OUTDIR/MODEL.weights.pth  the state dict;
  OUTDIR/MODEL.torch.onnx   torch.onnx.export of the eval-mode model at opset N (default 17, the highest torch 1.13
                            supports), input 'input' [B, 3, S, S], output 'logits';
  OUTDIR/MODEL.input.pth    {'input': x}, a random batch of that shape.
Prints the opset used.
"""
import argparse
import os

import torch
import torchvision

from model_parity import randomise_batchnorm


def main():
    p = argparse.ArgumentParser()
    p.add_argument("outdir")
    p.add_argument("model")
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--opset", type=int, default=17)
    a = p.parse_args()
    torch.manual_seed(0)
    model = getattr(torchvision.models, a.model)(weights=None)
    randomise_batchnorm(model)
    model.eval()
    torch.save(model.state_dict(), os.path.join(a.outdir, a.model + ".weights.pth"))
    x = torch.randn(a.batch, 3, a.size, a.size)
    torch.save({"input": x}, os.path.join(a.outdir, a.model + ".input.pth"))
    torch.onnx.export(model, x, os.path.join(a.outdir, a.model + ".torch.onnx"), opset_version=a.opset,
                      input_names=["input"], output_names=["logits"], do_constant_folding=True)
    print(a.opset)


if __name__ == "__main__":
    main()
