"""Reference numbers for Backbones' KeypointRcnn tests, made by real torchvision 0.14's keypointrcnn_resnet50_fpn.

Usage: /usr/bin/python3 keypoint_rcnn_reference.py OUT_DIR

Writes, from torch.manual_seed(0):
  OUT_DIR/keys.json      [[key, shape], ...] of keypointrcnn_resnet50_fpn(weights=None, weights_backbone=None).state_dict()
                         in order, and the same for the pretrained layout (FrozenBatchNorm2d, as the COCO checkpoints)
                         under "frozen";
  OUT_DIR/model.pth      the fresh model's state dict (BatchNorm2d), with every BatchNorm's statistics and affine
                         perturbed, the RPN and both heads' last layers perturbed so that proposals, scores and
                         keypoints spread;
  OUT_DIR/io.pth         {'images': [3×H×W in [0, 1], ...], 'min_size', 'max_size',
                          'train': {'targets': [{'boxes', 'labels', 'keypoints'}, ...]},
                          'recipe': {'train_kpt_head', 'num_keypoints', 'trainable': [names], 'trainable_count'}}.
The test's model runs with min_size (320,) and max_size 512 on images whose shorter side is 320, so it stays quick.
"""
import json
import os
import sys

import torch
from torch import nn
from torchvision.models import resnet50
from torchvision.models.detection import keypointrcnn_resnet50_fpn
from torchvision.models.detection.backbone_utils import _resnet_fpn_extractor
from torchvision.ops import FrozenBatchNorm2d

MIN_SIZE, MAX_SIZE = 320, 512
TRAIN_KPT_HEAD, NUM_KEYPOINTS = 3, 5


def keys(model):
    return [[k, list(v.shape)] for k, v in model.state_dict().items()]


def image(height, width, phase):
    """A smooth colour field with a few bright rectangles: varied enough for the features to differ."""
    y = torch.linspace(0, 1, height)[:, None]
    x = torch.linspace(0, 1, width)[None, :]
    img = torch.stack([0.5 + 0.4 * torch.sin(6 * x + phase) * torch.cos(4 * y),
                       (0.5 + 0.4 * torch.cos(5 * y + 2 * phase)).expand(height, width),
                       0.5 + 0.3 * torch.sin(3 * (x + y) + phase)])
    for _ in range(4):
        h0, w0 = int(torch.randint(0, height // 2, ())), int(torch.randint(0, width // 2, ()))
        img[:, h0:h0 + height // 4, w0:w0 + width // 4] = torch.rand(3, 1, 1)
    return (img + 0.05 * torch.randn(img.shape)).clamp(0, 1)


def perturb(model):
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.1)
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
        model.rpn.head.cls_logits.weight.normal_(0, 0.05)
        model.rpn.head.bbox_pred.weight.normal_(0, 0.001)
        model.roi_heads.box_predictor.cls_score.weight.normal_(0, 0.002)
        model.roi_heads.box_predictor.bbox_pred.weight.normal_(0, 0.0005)
        model.roi_heads.keypoint_predictor.kps_score_lowres.weight.normal_(0, 0.002)


def main(out):
    torch.manual_seed(0)
    os.makedirs(out, exist_ok=True)
    # The layout torchvision builds under weights (FrozenBatchNorm2d, 3 trainable stages), without downloading any.
    frozen = keypointrcnn_resnet50_fpn(weights=None, weights_backbone=None)
    frozen.backbone = _resnet_fpn_extractor(resnet50(norm_layer=FrozenBatchNorm2d), 3)
    model = keypointrcnn_resnet50_fpn(weights=None, weights_backbone=None, min_size=MIN_SIZE, max_size=MAX_SIZE)
    with open(os.path.join(out, "keys.json"), "w") as f:
        json.dump({"fresh": keys(model), "frozen": keys(frozen)}, f)
    perturb(model)
    torch.save(model.state_dict(), os.path.join(out, "model.pth"))

    # Shorter sides of MIN_SIZE: the transform's resize is then the identity in both libraries (torch 1.13's bilinear
    # kernel computes source positions in double, libtorch 2.10's in float32, which moves upsampled pixels by 3e-5).
    images = [image(320, 416, 0.3), image(448, 320, 1.1)]

    # Targets: two people in the first image, one in the second; keypoints inside their boxes, some invisible.
    def person(x1, y1, x2, y2):
        kp = torch.stack([torch.empty(17).uniform_(x1, x2), torch.empty(17).uniform_(y1, y2), (torch.rand(17) > 0.2).float() * 2], 1)
        return [x1, y1, x2, y2], kp
    boxes1, kps1 = zip(person(30., 40., 150., 220.), person(170., 20., 300., 230.))
    boxes2, kps2 = zip(person(20., 50., 180., 280.))
    targets = [{"boxes": torch.tensor(boxes1), "labels": torch.tensor([1, 1]), "keypoints": torch.stack(kps1)},
               {"boxes": torch.tensor(boxes2), "labels": torch.tensor([1]), "keypoints": torch.stack(kps2)}]

    # The recipe: freeze all, train the FPN and the last N keypoint convolutions, a new predictor for K keypoints.
    recipe = keypointrcnn_resnet50_fpn(weights=None, weights_backbone=None)
    for p in recipe.parameters():
        p.requires_grad = False
    for p in recipe.backbone.fpn.parameters():
        p.requires_grad = True
    convs = [m for m in recipe.roi_heads.keypoint_head if isinstance(m, nn.Conv2d)]
    for conv in convs[-TRAIN_KPT_HEAD:]:
        for p in conv.parameters():
            p.requires_grad = True
    recipe.roi_heads.keypoint_predictor.kps_score_lowres = nn.ConvTranspose2d(512, NUM_KEYPOINTS, 4, stride=2, padding=1)
    trainable = [n for n, p in recipe.named_parameters() if p.requires_grad]

    torch.save({
        "images": images, "min_size": MIN_SIZE, "max_size": MAX_SIZE,
        "train": {"targets": targets},
        "recipe": {"train_kpt_head": TRAIN_KPT_HEAD, "num_keypoints": NUM_KEYPOINTS, "trainable": trainable,
                   "trainable_count": sum(p.numel() for p in recipe.parameters() if p.requires_grad)},
    }, os.path.join(out, "io.pth"))


if __name__ == "__main__":
    main(sys.argv[1])
