"""A DenseNet state dict in the old key spelling of torchvision's first DenseNet checkpoints, for Backbones' remap test.

Usage: /usr/bin/python3 densenet_old_keys.py OUTDIR MODEL --size S

torchvision's original checkpoints (densenet121-a639ec97.pth, ...) name the dense layers' children 'norm.1', 'conv.1',
'norm.2', 'conv.2' and have no num_batches_tracked (they predate it). This script builds MODEL with random weights
(BatchNorm randomised), writes its state dict with the dense-layer keys spelled the old way and num_batches_tracked
dropped, then loads that file through torchvision's own densenet._load_state_dict (the rule torchvision applies to its
checkpoints) into a fresh model, and checks it gives the original model's logits bit for bit. Writes:
  OUTDIR/MODEL.old.pth     the old-spelled state dict (a plain OrderedDict, no _metadata, as the old files);
  OUTDIR/MODEL.old_io.pth  {'input': x, 'logits': eval logits of the model torchvision loaded from the old dict,
                            'remapped_keys': the dict's keys after torchvision's rule renamed them, in its order}.
"""
import argparse
import os
import re
from collections import OrderedDict

import torch
import torchvision
from torchvision.models import densenet

from model_parity import randomise_batchnorm

# The inverse of torchvision's rename, to write the old spelling: denselayer3.norm1.weight -> denselayer3.norm.1.weight.
NEW_SPELLING = re.compile(r"^(.*denselayer\d+\.(?:norm|relu|conv))([12])\.(weight|bias|running_mean|running_var)$")


class OldCheckpoint:
    """Stands in for a WeightsEnum: torchvision's _load_state_dict only calls get_state_dict."""

    def __init__(self, state_dict):
        self.state_dict = state_dict

    def get_state_dict(self, progress):
        return self.state_dict


def main():
    p = argparse.ArgumentParser()
    p.add_argument("outdir")
    p.add_argument("model")
    p.add_argument("--size", type=int, default=64)
    a = p.parse_args()
    torch.manual_seed(0)
    original = getattr(torchvision.models, a.model)(weights=None)
    randomise_batchnorm(original)
    original.eval()

    old = OrderedDict()
    for key, value in original.state_dict().items():
        if key.endswith("num_batches_tracked"):
            continue
        old[NEW_SPELLING.sub(r"\1.\2.\3", key)] = value.clone()
    renamed = sum(1 for k in original.state_dict() if NEW_SPELLING.match(k))
    assert renamed > 0 and len([k for k in old if ".norm.1." in k or ".conv.2." in k]) > 0
    torch.save(old, os.path.join(a.outdir, a.model + ".old.pth"))

    # torchvision's rule renames the dict in place, then load_state_dict(strict=True) must accept it.
    reloaded = getattr(torchvision.models, a.model)(weights=None)
    as_read = torch.load(os.path.join(a.outdir, a.model + ".old.pth"))
    densenet._load_state_dict(reloaded, OldCheckpoint(as_read), progress=False)
    reloaded.eval()

    x = torch.randn(1, 3, a.size, a.size)
    with torch.no_grad():
        expected = original(x)
        logits = reloaded(x)
    assert torch.equal(expected, logits), "torchvision's rule did not restore the model"
    torch.save({"input": x, "logits": logits, "remapped_keys": list(as_read.keys())},
               os.path.join(a.outdir, a.model + ".old_io.pth"))
    print(a.model, len(old), "keys,", renamed, "in the old spelling")


if __name__ == "__main__":
    main()
