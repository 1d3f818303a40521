"""torchvision 0.14's AnchorGenerator (base anchors and anchors per image) for the AnchorGenerator tests.

Usage: /usr/bin/python3 anchors_reference.py OUT_DIR

Writes OUT_DIR/anchors.json, a list of cases {"name", "sizes", "aspect_ratios", "batch" [N, C, H, W] of the padded
images, "feature_sizes" [[h, w], ...], "dtype"}, and OUT_DIR/anchors.pth with NAME/cell/L (the base anchors of level L)
and NAME/anchors/I (the anchors of image I).
"""
import json
import os
import sys

import torch
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.image_list import ImageList


def main():
    fpn_sizes = [[32], [64], [128], [256], [512]]
    fpn_ratios = [[0.5, 1.0, 2.0]] * 5

    def strided(h, w, strides):
        return [[-(-h // s), -(-w // s)] for s in strides]

    settings = [
        ("fpn_224x288", fpn_sizes, fpn_ratios, [2, 3, 224, 288], strided(224, 288, (4, 8, 16, 32, 64)), "float32"),
        # Sizes that are no multiple of the strides: torchvision's strides are image // map (here 150 // 38 = 3).
        ("fpn_150x201", fpn_sizes, fpn_ratios, [1, 3, 150, 201], strided(150, 201, (4, 8, 16, 32, 64)), "float32"),
        ("fpn_float64", fpn_sizes, fpn_ratios, [1, 3, 64, 96], strided(64, 96, (4, 8, 16, 32, 64)), "float64"),
        ("default_one_level", [[128, 256, 512]], [[0.5, 1.0, 2.0]], [3, 3, 160, 128], [[10, 8]], "float32"),
        ("odd_ratios", [[20, 45], [90]], [[0.3, 1.7], [0.25, 1.0, 4.0, 3.3]], [1, 3, 96, 64], [[12, 8], [6, 4]], "float32"),
    ]
    cases, tensors = [], {}
    for name, sizes, ratios, batch, feature_sizes, dtype in settings:
        generator = AnchorGenerator(tuple(tuple(s) for s in sizes), tuple(tuple(r) for r in ratios))
        images = ImageList(torch.zeros(batch), [tuple(batch[2:])] * batch[0])
        maps = [torch.zeros(batch[0], 1, h, w, dtype=getattr(torch, dtype)) for h, w in feature_sizes]
        for level, cell in enumerate(generator.cell_anchors):
            tensors[f"{name}/cell/{level}"] = cell.clone()
        for i, anchors in enumerate(generator(images, maps)):
            tensors[f"{name}/anchors/{i}"] = anchors
        cases.append({"name": name, "sizes": sizes, "aspect_ratios": ratios, "batch": batch,
                      "feature_sizes": feature_sizes, "dtype": dtype})
    torch.save(tensors, os.path.join(sys.argv[1], "anchors.pth"))
    with open(os.path.join(sys.argv[1], "anchors.json"), "w") as f:
        json.dump(cases, f)


if __name__ == "__main__":
    main()
