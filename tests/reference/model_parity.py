"""Reference outputs of torchvision models for Backbones' architecture parity tests.

Usage: /usr/bin/python3 model_parity.py OUTDIR MODEL --size S --batch B [--features PATH,PATH...] [--kwargs JSON] [--name STEM]
       [--train-size S2] [--train-batch B2]

For MODEL (a torchvision.models builder name, built with weights=None and the given keyword arguments) writes:
  OUTDIR/STEM.weights.pth   its state dict, with BatchNorm affine parameters and running statistics
                            randomised so that eval-mode normalisation is not the identity;
  OUTDIR/STEM.io.pth        {'input': x, 'logits': eval logits, 'features': {path: eval output of that module},
                             'train_input': x2, 'train_bn': {key: running_mean/var after one train-mode forward of x2
                             from the same weights},
                             'keys': [[key, dtype, shape], ...] of state_dict() in order}.
Everything is made by real PyTorch from torch.manual_seed(0).
"""
import argparse
import json
import os
from collections import OrderedDict

import torch
import torchvision


def randomise_batchnorm(model):
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            with torch.no_grad():
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.1)
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("outdir")
    p.add_argument("model")
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--features", default="")
    p.add_argument("--kwargs", default="{}")
    p.add_argument("--name", default=None, help="file name stem (default: MODEL)")
    p.add_argument("--train-size", type=int, default=None, help="input size of the train-mode forward (default: --size)")
    p.add_argument("--train-batch", type=int, default=None, help="batch of the train-mode forward (default: --batch)")
    a = p.parse_args()
    torch.manual_seed(0)
    model = getattr(torchvision.models, a.model)(weights=None, **json.loads(a.kwargs))
    randomise_batchnorm(model)
    model.eval()
    state = model.state_dict()
    name = a.name or a.model
    torch.save(state, os.path.join(a.outdir, name + ".weights.pth"))

    x = torch.randn(a.batch, 3, a.size, a.size)
    modules = dict(model.named_modules())
    features, hooks = OrderedDict(), []
    for path in [f for f in a.features.split(",") if f]:
        hooks.append(modules[path].register_forward_hook(lambda m, i, o, path=path: features.__setitem__(path, o.detach().clone())))
    with torch.no_grad():
        logits = model(x)
    for h in hooks:
        h.remove()

    # One train-mode forward from the same weights updates BatchNorm's running statistics. Batch statistics over
    # few values (tiny maps, batch 1) amplify kernel rounding, so this input may be larger than the eval one.
    train_x = torch.randn(a.train_batch or a.batch, 3, a.train_size or a.size, a.train_size or a.size)
    model.train()
    with torch.no_grad():
        model(train_x)
    train_bn = OrderedDict((k, v.clone()) for k, v in model.state_dict().items()
                           if k.endswith("running_mean") or k.endswith("running_var") or k.endswith("num_batches_tracked"))
    keys = [[k, str(v.dtype).replace("torch.", ""), list(v.shape)] for k, v in state.items()]
    torch.save({"input": x, "logits": logits, "features": features, "train_input": train_x, "train_bn": train_bn, "keys": keys},
               os.path.join(a.outdir, name + ".io.pth"))
    print(name)


if __name__ == "__main__":
    main()
