"""torchvision.ops.roi_align and MultiScaleRoIAlign, forward and input gradient, on random maps and awkward boxes,
for the RoiAlign and MultiScaleRoiAlign tests.

Usage: /usr/bin/python3 roi_align_reference.py OUT_DIR

Writes OUT_DIR/roi_align.json, a list of cases {"name", "output_size", "spatial_scale", "sampling_ratio", "aligned"},
and OUT_DIR/roi_align.pth mapping NAME/input, NAME/rois ([K, 5]), NAME/grad_output, NAME/output and
NAME/grad_input (the gradient of sum(output * grad_output) with respect to input) to tensors.

Writes OUT_DIR/multiscale.json, a list of cases {"name", "feature_keys" (the dict's order), "featmap_names",
"output_size", "sampling_ratio", "image_shapes", "scales", "k_min", "k_max"} as MultiScaleRoIAlign worked them out,
and OUT_DIR/multiscale.pth with NAME/feature/KEY, NAME/boxes/I (per image, [L, 4]), NAME/grad_output, NAME/output,
NAME/grad/KEY (gradient of each pooled map) and NAME/levels (the LevelMapper's level per box, multi-level cases).
"""
import json
import os
import sys

from collections import OrderedDict

import torch
from torchvision.ops import MultiScaleRoIAlign, roi_align


def awkward_boxes(generator, image_h, image_w, images, dtype):
    """Random boxes and the hard ones: partly or wholly outside, tiny, reversed, on integer points, whole image."""
    k = 24
    x1 = (torch.rand(k, generator=generator, dtype=torch.float64) * 1.3 - 0.2) * image_w
    y1 = (torch.rand(k, generator=generator, dtype=torch.float64) * 1.3 - 0.2) * image_h
    w = torch.rand(k, generator=generator, dtype=torch.float64) * 0.7 * image_w
    h = torch.rand(k, generator=generator, dtype=torch.float64) * 0.7 * image_h
    boxes = torch.stack([x1, y1, x1 + w, y1 + h], 1)
    special = torch.tensor([
        [0.3, 0.4, 0.5, 0.9],                                    # tiny
        [2.0, 3.0, 2.2, 3.1],                                    # tinier
        [-5.0, -4.0, 3.0, 2.0],                                  # over the top-left corner
        [image_w - 3.0, image_h - 2.0, image_w + 6.0, image_h + 5.0],  # over the bottom-right corner
        [-30.0, -30.0, -12.0, -15.0],                            # wholly outside: every sample weighs nothing
        [image_w + 10.0, 1.0, image_w + 20.0, 8.0],              # wholly outside on the right
        [0.0, 0.0, image_w, image_h],                            # the whole image
        [2.0, 2.0, 10.0, 6.0],                                   # integer corners
        [8.0, 5.0, 4.0, 3.0],                                    # reversed
        [5.0, 5.0, 5.0, 5.0],                                    # a point
        [image_w - 1.0, 0.0, image_w, image_h],                  # the last column
    ], dtype=torch.float64)
    boxes = torch.cat([boxes, special])
    index = torch.randint(0, images, (len(boxes), 1), generator=generator).to(torch.float64)
    return torch.cat([index, boxes], 1).to(dtype)


def boxes_in(generator, height, width, count):
    """Boxes with sides log-uniform from 8 to 800 pixels, so that every pyramid level (and both clamps) gets some."""
    side = torch.exp(torch.empty(count, 2, dtype=torch.float64).uniform_(2.1, 6.7, generator=generator))
    corner = torch.rand(count, 2, generator=generator, dtype=torch.float64) * torch.tensor([width, height]) - side / 3
    return torch.cat([corner, corner + side], 1).to(torch.float32)


def multiscale(out_dir, generator):
    cases, tensors = [], {}
    # (name, image shapes, batched size, map keys and strides, featmap names, output size, sampling ratio)
    fpn = [("0", 4), ("1", 8), ("2", 16), ("3", 32), ("pool", 64)]
    settings = [
        ("fpn_7", [(200, 264), (184, 256)], (224, 288), fpn, ["0", "1", "2", "3"], (7, 7), 2),
        ("fpn_14", [(200, 264), (184, 256)], (224, 288), fpn, ["0", "1", "2", "3"], (14, 14), 2),
        ("fpn_odd_size", [(150, 201)], (150, 201), fpn, ["0", "1", "2", "3"], (7, 7), 2),
        ("fpn_three_levels", [(120, 96)], (128, 96), fpn, ["1", "2", "3"], (4, 6), -1),
        ("single_level", [(120, 96), (128, 90)], (128, 96), fpn, ["2"], (5, 4), 2),
    ]
    for name, image_shapes, batched, maps, names, output_size, sampling_ratio in settings:
        features = OrderedDict()
        for key, stride in maps:
            # A ResNet's map size at this stride: ceil division, as strided convolutions give.
            size = (-(-batched[0] // stride), -(-batched[1] // stride))
            features[key] = torch.randn(len(image_shapes), 3, *size, generator=generator).requires_grad_(True)
        boxes = [boxes_in(generator, h, w, 18) for h, w in image_shapes]
        pooler = MultiScaleRoIAlign(names, output_size, sampling_ratio)
        y = pooler(features, boxes, image_shapes)
        grad_output = torch.randn(y.shape, generator=generator)
        used = [k for k in features if k in names]
        grads = torch.autograd.grad(y, [features[k] for k in used], grad_output)
        cases.append({"name": name, "feature_keys": list(features), "featmap_names": names, "output_size": list(output_size),
                      "sampling_ratio": sampling_ratio, "image_shapes": [list(s) for s in image_shapes],
                      "scales": pooler.scales, "k_min": pooler.map_levels.k_min, "k_max": pooler.map_levels.k_max})
        for key, value in features.items():
            tensors[f"{name}/feature/{key}"] = value.detach()
        for i, b in enumerate(boxes):
            tensors[f"{name}/boxes/{i}"] = b
        for key, g in zip(used, grads):
            tensors[f"{name}/grad/{key}"] = g
        tensors[f"{name}/grad_output"] = grad_output
        tensors[f"{name}/output"] = y.detach()
        if len(names) > 1:
            tensors[f"{name}/levels"] = pooler.map_levels(boxes)
    torch.save(tensors, os.path.join(out_dir, "multiscale.pth"))
    with open(os.path.join(out_dir, "multiscale.json"), "w") as f:
        json.dump(cases, f)


def main():
    out_dir = sys.argv[1]
    generator = torch.Generator().manual_seed(20240611)
    multiscale(out_dir, generator)
    cases, tensors = [], {}
    settings = []
    for dtype in (torch.float32, torch.float64):
        for sampling_ratio in (2, -1):
            for aligned in (False, True):
                settings.append((dtype, (7, 7), 0.5, sampling_ratio, aligned))
    settings += [(torch.float32, (14, 14), 0.25, 2, False), (torch.float32, (3, 5), 0.125, 0, False),
                 (torch.float64, (4, 6), 1.0, -1, True), (torch.float32, (7, 7), 1.0, 3, False)]
    for dtype, output_size, scale, sampling_ratio, aligned in settings:
        name = f"{str(dtype)[6:]}_{output_size[0]}x{output_size[1]}_s{scale}_r{sampling_ratio}_{'aligned' if aligned else 'legacy'}"
        images, channels, height, width = 2, 3, 11, 14
        x = torch.randn(images, channels, height, width, generator=generator, dtype=torch.float64).to(dtype)
        rois = awkward_boxes(generator, height / scale, width / scale, images, dtype)
        x.requires_grad_(True)
        y = roi_align(x, rois, output_size, spatial_scale=scale, sampling_ratio=sampling_ratio, aligned=aligned)
        grad_output = torch.randn(y.shape, generator=generator, dtype=torch.float64).to(dtype)
        (grad_input,) = torch.autograd.grad(y, x, grad_output)
        cases.append({"name": name, "output_size": list(output_size), "spatial_scale": scale,
                      "sampling_ratio": sampling_ratio, "aligned": aligned})
        for key, value in (("input", x), ("rois", rois), ("grad_output", grad_output), ("output", y), ("grad_input", grad_input)):
            tensors[f"{name}/{key}"] = value.detach().contiguous()
    torch.save(tensors, os.path.join(out_dir, "roi_align.pth"))
    with open(os.path.join(out_dir, "roi_align.json"), "w") as f:
        json.dump(cases, f)


if __name__ == "__main__":
    main()
