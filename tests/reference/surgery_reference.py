"""Reference numbers for Backbones' model-surgery tests (output stride, input channels), made by real PyTorch.

Usage: /usr/bin/python3 surgery_reference.py OUTDIR --size S

Writes, from torch.manual_seed(0):
  OUTDIR/resnet50.weights.pth  a plain torchvision resnet50's state dict, BatchNorm randomised (as model_parity.py does);
  OUTDIR/surgery.io.pth        {'input': x [1, 3, S, S],
                                'strides': {config: {'logits', 'layer1'..'layer4'}} for the same weights built as
                                    'os32' plain, 'os16' replace_stride_with_dilation=[False, False, True],
                                    'os8' [False, True, True], and 'last1' torchreid's last_stride=1 (layer4's first
                                    block conv2 and downsample with stride 1, no dilation);
                                'adapt': {str(C): timm's adapt_input_conv(C, conv1.weight)} for C in 1, 2, 4, 5, 6, 7;
                                'gray_input', 'gray_logits': a resnet50 whose conv1 has 1 input channel and timm's
                                    weights, on a one-channel input; 'rgbd_input', 'rgbd_logits': the same with 4.}
"""
import argparse
import math
import os
from collections import OrderedDict

import torch
import torchvision

from model_parity import randomise_batchnorm


def adapt_input_conv(in_chans, conv_weight):
    """timm.models._manipulate.adapt_input_conv (timm 1.0), transcribed (timm is not packaged for Debian); its
    space-to-depth branch (1 channel from a stem of more than 3) is kept though no zoo model has such a stem."""
    conv_type = conv_weight.dtype
    conv_weight = conv_weight.float()
    O, I, J, K = conv_weight.shape
    if in_chans == 1:
        if I > 3:
            assert conv_weight.shape[1] % 3 == 0
            conv_weight = conv_weight.reshape(O, I // 3, 3, J, K)
            conv_weight = conv_weight.sum(dim=2, keepdim=False)
        else:
            conv_weight = conv_weight.sum(dim=1, keepdim=True)
    elif in_chans != 3:
        if I != 3:
            raise NotImplementedError('Weight format not supported by conversion.')
        repeat = int(math.ceil(in_chans / 3))
        conv_weight = conv_weight.repeat(1, repeat, 1, 1)[:, :in_chans, :, :]
        conv_weight *= (3 / float(in_chans))
    return conv_weight.to(conv_type)


def run(model, x):
    outputs, hooks = OrderedDict(), []
    for name in ["layer1", "layer2", "layer3", "layer4"]:
        hooks.append(getattr(model, name).register_forward_hook(lambda m, i, o, name=name: outputs.__setitem__(name, o.detach().clone())))
    with torch.no_grad():
        outputs["logits"] = model(x)
    for h in hooks:
        h.remove()
    return outputs


def main():
    p = argparse.ArgumentParser()
    p.add_argument("outdir")
    p.add_argument("--size", type=int, default=64)
    a = p.parse_args()
    torch.manual_seed(0)
    model = torchvision.models.resnet50(weights=None)
    randomise_batchnorm(model)
    state = model.state_dict()
    torch.save(state, os.path.join(a.outdir, "resnet50.weights.pth"))
    x = torch.randn(1, 3, a.size, a.size)

    strides = OrderedDict()
    for name, dilate in [("os32", [False, False, False]), ("os16", [False, False, True]), ("os8", [False, True, True])]:
        m = torchvision.models.resnet50(weights=None, replace_stride_with_dilation=dilate)
        m.load_state_dict(state)
        strides[name] = run(m.eval(), x)
    m = torchvision.models.resnet50(weights=None)
    m.load_state_dict(state)
    m.layer4[0].conv2.stride = (1, 1)
    m.layer4[0].downsample[0].stride = (1, 1)
    strides["last1"] = run(m.eval(), x)

    w = state["conv1.weight"]
    adapt = OrderedDict((str(c), adapt_input_conv(c, w.clone())) for c in [1, 2, 4, 5, 6, 7])

    io = {"input": x, "strides": strides, "adapt": adapt}
    for key, channels in [("gray", 1), ("rgbd", 4)]:
        m = torchvision.models.resnet50(weights=None)
        m.load_state_dict(state)
        m.conv1 = torch.nn.Conv2d(channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        with torch.no_grad():
            m.conv1.weight.copy_(adapt_input_conv(channels, w.clone()))
        xi = torch.randn(1, channels, a.size, a.size)
        io[key + "_input"] = xi
        io[key + "_logits"] = run(m.eval(), xi)["logits"]
    torch.save(io, os.path.join(a.outdir, "surgery.io.pth"))
    print("ok")


if __name__ == "__main__":
    main()
