"""Reference numbers for Backbones' FrozenBatchNorm2d and FPN backbone tests, made by real torchvision 0.14.

Usage: /usr/bin/python3 fpn_reference.py frozen_bn OUTDIR
       /usr/bin/python3 fpn_reference.py fpn OUTDIR --model resnet50 [--trainable 3] [--returned 1,2,3,4] [--size S]

frozen_bn writes, from torch.manual_seed(0):
  OUTDIR/frozen_bn.io.pth  {'state': a FrozenBatchNorm2d(8)'s state dict with random statistics, 'input': x [2, 8, 5, 5],
                            'output': its output, 'keys': its state-dict keys,
                            'bn_state': an nn.BatchNorm2d(8)'s state dict (num_batches_tracked included) after one
                                train-mode forward, 'bn_loaded_output': FrozenBatchNorm2d(8) with bn_state loaded on x,
                            'missing', 'unexpected': what load_state_dict(bn_state) reported}.
fpn writes:
  OUTDIR/fpn.weights.pth   resnet_fpn_backbone(MODEL, weights=None, trainable_layers=T, returned_layers=R)'s state dict,
                           FrozenBatchNorm2d statistics and affine terms perturbed, FPN biases random;
  OUTDIR/fpn_legacy.weights.pth  the same with the FPN keys as before torchvision 0.13 (inner_blocks.0.weight, no '.0')
                           and _metadata version 1 for 'fpn', which torchvision itself loads (checked here);
  OUTDIR/resnet.weights.pth  a plain torchvision MODEL's state dict (BatchNorm2d, num_batches_tracked 7, fc) holding the
                           body's tensors, as an ImageNet checkpoint would;
  OUTDIR/fpn.io.pth        {'input': x [1, 3, S, S+32], 'outputs': {name: FPN output}, 'names': output names in order,
                            'keys': [[key, dtype, shape], ...] of state_dict() in order,
                            'requires_grad': {str(t): {parameter name: requires_grad}} for trainable_layers t in 0..5}.
"""
import argparse
import os
from collections import OrderedDict

import torch
import torchvision
from torchvision.models.detection.backbone_utils import resnet_fpn_backbone
from torchvision.ops import FrozenBatchNorm2d


def perturb_frozen(module):
    with torch.no_grad():
        module.weight.uniform_(0.5, 1.5)
        module.bias.normal_(0, 0.1)
        module.running_mean.normal_(0, 0.1)
        module.running_var.uniform_(0.5, 1.5)


def frozen_bn(outdir):
    torch.manual_seed(0)
    m = FrozenBatchNorm2d(8)
    perturb_frozen(m)
    x = torch.randn(2, 8, 5, 5)
    y = m(x)
    bn = torch.nn.BatchNorm2d(8)
    with torch.no_grad():
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.normal_(0, 0.1)
        bn(torch.randn(4, 8, 5, 5) * 2 + 0.5)
    bn_state = bn.state_dict()
    loaded = FrozenBatchNorm2d(8)
    result = loaded.load_state_dict(bn_state, strict=True)
    torch.save({"state": m.state_dict(), "input": x, "output": y, "keys": list(m.state_dict().keys()),
                "bn_state": bn_state, "bn_loaded_output": loaded(x),
                "missing": list(result.missing_keys), "unexpected": list(result.unexpected_keys)},
               os.path.join(outdir, "frozen_bn.io.pth"))


def fpn(outdir, model, trainable, returned, size):
    torch.manual_seed(0)
    net = resnet_fpn_backbone(backbone_name=model, weights=None, trainable_layers=trainable, returned_layers=returned)
    for m in net.modules():
        if isinstance(m, FrozenBatchNorm2d):
            perturb_frozen(m)
        elif isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            with torch.no_grad():
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.1)
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    with torch.no_grad():
        for name, p in net.fpn.named_parameters():
            if name.endswith("bias"):
                p.normal_(0, 0.1)
    net.eval()
    state = net.state_dict()
    torch.save(state, os.path.join(outdir, "fpn.weights.pth"))
    x = torch.randn(1, 3, size, size + 32)
    with torch.no_grad():
        out = net(x)
    keys = [[k, str(v.dtype).replace("torch.", ""), list(v.shape)] for k, v in state.items()]
    requires_grad = OrderedDict()
    for t in range(6):
        built = resnet_fpn_backbone(backbone_name=model, weights=None, trainable_layers=t, returned_layers=returned)
        requires_grad[str(t)] = OrderedDict((k, p.requires_grad) for k, p in built.named_parameters())

    legacy = OrderedDict()
    for k, v in state.items():
        legacy[k.replace(".0.weight", ".weight").replace(".0.bias", ".bias") if k.startswith("fpn.") else k] = v
    legacy._metadata = OrderedDict((k, dict(v)) for k, v in state._metadata.items())
    legacy._metadata["fpn"]["version"] = 1
    check = resnet_fpn_backbone(backbone_name=model, weights=None, trainable_layers=trainable, returned_layers=returned)
    check.load_state_dict(legacy)
    check.eval()
    with torch.no_grad():
        assert all(torch.equal(a, b) for a, b in zip(check(x).values(), out.values()))
    torch.save(legacy, os.path.join(outdir, "fpn_legacy.weights.pth"))

    plain = getattr(torchvision.models, model)(weights=None).state_dict()
    for k in plain:
        if "body." + k in state:
            plain[k] = state["body." + k].clone()
        elif k.endswith("num_batches_tracked"):
            plain[k] = torch.tensor(7)
    torch.save(plain, os.path.join(outdir, "resnet.weights.pth"))
    torch.save({"input": x, "outputs": OrderedDict((k, v) for k, v in out.items()), "names": list(out.keys()),
                "keys": keys, "requires_grad": requires_grad}, os.path.join(outdir, "fpn.io.pth"))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("what", choices=["frozen_bn", "fpn"])
    p.add_argument("outdir")
    p.add_argument("--model", default="resnet50")
    p.add_argument("--trainable", type=int, default=3)
    p.add_argument("--returned", default="1,2,3,4")
    p.add_argument("--size", type=int, default=64)
    a = p.parse_args()
    if a.what == "frozen_bn":
        frozen_bn(a.outdir)
    else:
        fpn(a.outdir, a.model, a.trainable, [int(r) for r in a.returned.split(",")], a.size)


if __name__ == "__main__":
    main()
