"""Reference numbers for Backbones' RoiHeads tests, made by real torchvision 0.14's Keypoint R-CNN RoI heads.

Usage: /usr/bin/python3 roi_heads_reference.py OUT_DIR

Writes, from torch.manual_seed(0):
  OUT_DIR/heads.weights.pth  keypointrcnn_resnet50_fpn(weights=None, weights_backbone=None).roi_heads' state dict with
                             the box predictor and the keypoint head perturbed so that scores spread and keypoints
                             differ (keys without the 'roi_heads.' prefix);
  OUT_DIR/heads.io.pth       {'keys': [[key, dtype, shape], ...] of the whole model's 'roi_heads.*' keys in order,
                              'features': OrderedDict '0'..'3', 'pool' of random FPN maps [2, 256, h, w],
                              'image_shapes': [[h, w], ...], 'proposals': [tensor [L, 4], ...] random boxes inside
                              each image,
                              'detections_per_img': 25 (eval), 'eval': [{'boxes', 'labels', 'scores', 'keypoints', 'keypoints_scores'} per image],
                              'train': [{'name', 'seed', 'batch_size_per_image', 'targets': [{'boxes', 'labels',
                                         'keypoints'} per image], 'losses': {name: value},
                                         'gradients': {parameter: gradient of the losses' sum} for GRADIENTS}, ...],
                              'heatmaps': {'maps' [R, K, 56, 56], 'rois' [R, 4], 'keypoints' [R, K, 3],
                                           'scores' [R, K], 'keypoints64', 'scores64' from the maps and rois in
                                           float64} (heatmaps_to_keypoints alone),
                              'to_heatmap': {'keypoints' [R, K, 3], 'rois' [R, 4], 'heatmaps', 'valid'}
                                           (keypoints_to_heatmap alone, size 56)}.
Training runs torch.manual_seed(seed) right before RoIHeads.forward, so the sampler's randperm draws are reproducible.
"""
import os
import sys
from collections import OrderedDict

import torch
from torchvision.models.detection import keypointrcnn_resnet50_fpn
from torchvision.models.detection.roi_heads import heatmaps_to_keypoints, keypoints_to_heatmap

K = 17
STRIDES = [("0", 4), ("1", 8), ("2", 16), ("3", 32), ("pool", 64)]
IMAGE_SHAPES = [(480, 400), (416, 512)]
BATCHED = (480, 512)
# Fewer than torchvision's 100 so that the keypoint head (8 convolutions of 512 channels per box) stays quick; the
# first image still has more detections than that, the second fewer.
DETECTIONS_PER_IMAGE = 25
# Parameters whose gradient of the summed losses is compared: the first and last layer of each branch.
GRADIENTS = ["box_head.fc6.weight", "box_predictor.cls_score.weight", "box_predictor.bbox_pred.bias", "keypoint_head.0.weight",
             "keypoint_predictor.kps_score_lowres.weight"]


def random_boxes(count, height, width):
    """Boxes inside the image with sides log-uniform from 16 px to the image's size, so every pyramid level gets some."""
    side = torch.exp(torch.empty(count, 2).uniform_(2.8, 6.1))
    side = torch.minimum(side, torch.tensor([width - 1.0, height - 1.0]))
    corner = torch.rand(count, 2) * (torch.tensor([width, height]) - side)
    return torch.cat([corner, corner + side], 1)


def jitter(boxes, height, width, amount):
    """Boxes moved by up to `amount` of their size, kept inside the image: ground truth that overlaps proposals."""
    wh = (boxes[:, 2:] - boxes[:, :2]).repeat(1, 2)
    moved = boxes + (torch.rand(boxes.shape) * 2 - 1) * amount * wh
    moved[:, 0::2] = moved[:, 0::2].clamp(0, width)
    moved[:, 1::2] = moved[:, 1::2].clamp(0, height)
    return moved


def keypoints_in(boxes):
    """K keypoints per box: most inside, some on the right and bottom edges (the heatmap's boundary rule), some outside,
    about a fifth invisible."""
    n = len(boxes)
    u = torch.rand(n, K, 2)
    x = boxes[:, None, 0] + u[..., 0] * (boxes[:, None, 2] - boxes[:, None, 0])
    y = boxes[:, None, 1] + u[..., 1] * (boxes[:, None, 3] - boxes[:, None, 1])
    x[:, 0] = boxes[:, 2]
    y[:, 1] = boxes[:, 3]
    x[:, 2] = boxes[:, 0] - 5
    vis = (torch.rand(n, K) > 0.2).float() * 2
    return torch.stack([x, y, vis], 2)


def targets_for(proposals, shapes, counts):
    targets = []
    for boxes, (h, w), count in zip(proposals, shapes, counts):
        if count == 0:
            targets.append({"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.int64),
                            "keypoints": torch.zeros(0, K, 3)})
            continue
        gt = jitter(boxes[torch.randperm(len(boxes))[:count]], h, w, 0.15)
        targets.append({"boxes": gt, "labels": torch.ones(count, dtype=torch.int64), "keypoints": keypoints_in(gt)})
    return targets


def main():
    out_dir = sys.argv[1]
    torch.manual_seed(0)
    model = keypointrcnn_resnet50_fpn(weights=None, weights_backbone=None)
    keys = [[k, str(v.dtype).replace("torch.", ""), list(v.shape)] for k, v in model.state_dict().items() if k.startswith("roi_heads.")]
    heads = model.roi_heads
    with torch.no_grad():
        heads.box_predictor.cls_score.weight.normal_(0, 0.3)
        heads.box_predictor.cls_score.bias.copy_(torch.tensor([0.5, -0.5]))
        heads.box_predictor.bbox_pred.weight.normal_(0, 0.02)
        heads.box_predictor.bbox_pred.bias.normal_(0, 0.1)
        for name, p in heads.keypoint_head.named_parameters():
            if name.endswith("bias"):
                p.normal_(0, 0.05)
        heads.keypoint_predictor.kps_score_lowres.bias.normal_(0, 0.5)
    torch.save(heads.state_dict(), os.path.join(out_dir, "heads.weights.pth"))

    features = OrderedDict()
    for name, stride in STRIDES:
        features[name] = torch.randn(2, 256, -(-BATCHED[0] // stride), -(-BATCHED[1] // stride))
    proposals = [random_boxes(count, h, w) for count, (h, w) in zip((150, 24), IMAGE_SHAPES)]

    heads.eval()
    heads.detections_per_img = DETECTIONS_PER_IMAGE
    with torch.no_grad():
        detections, _ = heads(features, proposals, IMAGE_SHAPES)

    train = []
    for name, seed, batch, counts in (("default_batch", 11, 512, (4, 3)), ("small_batch", 12, 64, (5, 4)),
                                      ("background_image", 13, 64, (4, 0))):
        targets = targets_for(proposals, IMAGE_SHAPES, counts)
        heads.train()
        heads.fg_bg_sampler.batch_size_per_image = batch
        torch.manual_seed(seed)
        _, losses = heads(features, [p.clone() for p in proposals], IMAGE_SHAPES, targets)
        heads.zero_grad()
        sum(losses.values()).backward()
        grads = OrderedDict((k, p.grad.clone()) for k, p in heads.named_parameters() if k in GRADIENTS)
        train.append({"name": name, "seed": seed, "batch_size_per_image": batch, "targets": targets,
                      "losses": {k: v.detach() for k, v in losses.items()}, "gradients": grads})

    maps = torch.randn(40, K, 56, 56)
    rois = random_boxes(36, 300, 400)
    rois = torch.cat([rois, torch.tensor([[10.0, 20.0, 10.5, 20.25], [5.0, 5.0, 5.0, 5.0], [3.2, 4.7, 60.3, 9.9],
                                          [100.0, 50.0, 101.7, 250.0]])])
    xy, scores = heatmaps_to_keypoints(maps, rois)
    xy64, scores64 = heatmaps_to_keypoints(maps.double(), rois.double())
    kp = keypoints_in(rois[:36])
    heat, valid = keypoints_to_heatmap(kp, rois[:36], 56)

    torch.save({"keys": keys, "detections_per_img": DETECTIONS_PER_IMAGE, "features": features, "image_shapes": [list(s) for s in IMAGE_SHAPES],
                "proposals": proposals, "eval": detections, "train": train,
                "heatmaps": {"maps": maps, "rois": rois, "keypoints": xy, "scores": scores, "keypoints64": xy64, "scores64": scores64},
                "to_heatmap": {"keypoints": kp, "rois": rois[:36].clone(), "heatmaps": heat, "valid": valid}},
               os.path.join(out_dir, "heads.io.pth"))
    print(" ".join(f"{len(d['boxes'])}" for d in detections), [sorted((k, round(v.item(), 5)) for k, v in t["losses"].items()) for t in train])


if __name__ == "__main__":
    main()
