"""Reference numbers for Backbones' RegionProposalNetwork tests, made by real torchvision 0.14.

Usage: /usr/bin/python3 rpn_reference.py OUTDIR

The RPN is keypointrcnn_resnet50_fpn(weights=None, weights_backbone=None).rpn, its head's weights perturbed (from
torch.manual_seed(0)) so that logits and deltas vary, fed FPN-shaped random features [2, 256, 320/s, 320/s] for
s = 4, 8, 16, 32, 64 of a padded batch 320×320 holding images of 320×288 and 256×320 (height × width).
Writes:
  OUTDIR/rpn.weights.pth         the RPN's state dict (head.conv.0.0.weight, ...);
  OUTDIR/rpn_legacy.weights.pth  the same with the head's pre-0.13 keys (head.conv.weight) and _metadata version 1
                                 for 'head', which torchvision's own _load_from_state_dict loads (checked here);
  OUTDIR/rpn.io.pth              a flat dict:
     'features/L' for L in 0 1 2 3 pool; 'image_sizes' int64 [2, 2]; 'batch' int64 [4] (N, C, H, W);
     'eval/boxes/I' the eval-mode proposals of image I;
     for CASE in 'train' (boxes in both images) and 'train_empty' (none in image 1): 'CASE/seed' (torch.manual_seed
     before the forward), 'CASE/boxes/I', 'CASE/labels/I', 'CASE/keypoints/I' (the targets), 'CASE/proposals/I',
     'CASE/loss_objectness', 'CASE/loss_rpn_box_reg', 'CASE/grad/NAME' (of the sum of the losses per parameter);
     'keys': [[key, dtype, shape], ...] of the full model's rpn.* state-dict entries, in order.
"""
import os
import sys
from collections import OrderedDict

import torch
from torchvision.models.detection import keypointrcnn_resnet50_fpn
from torchvision.models.detection.image_list import ImageList

SIZES = [(320, 288), (256, 320)]
BATCH = [2, 3, 320, 320]
STRIDES = [4, 8, 16, 32, 64]
NAMES = ["0", "1", "2", "3", "pool"]


def random_targets(count_per_image):
    targets = []
    for (h, w), count in zip(SIZES, count_per_image):
        wh = torch.rand(count, 2) * 150 + 12
        xy = torch.rand(count, 2) * (torch.tensor([w, h]) - wh)
        boxes = torch.cat([xy, xy + wh], 1)
        keypoints = torch.cat([xy[:, None] + torch.rand(count, 17, 2) * wh[:, None], torch.ones(count, 17, 1)], 2)
        targets.append({"boxes": boxes, "labels": torch.ones(count, dtype=torch.int64), "keypoints": keypoints})
    return targets


def main():
    outdir = sys.argv[1]
    torch.manual_seed(0)
    model = keypointrcnn_resnet50_fpn(weights=None, weights_backbone=None)
    keys = [[k, str(v.dtype).replace("torch.", ""), list(v.shape)] for k, v in model.state_dict().items() if k.startswith("rpn.")]
    rpn = model.rpn
    head = rpn.head
    with torch.no_grad():
        head.conv[0][0].weight.normal_(0, 0.02)
        head.conv[0][0].bias.normal_(0, 0.1)
        head.cls_logits.weight.normal_(0, 0.15)
        head.cls_logits.bias.normal_(0, 0.5)
        head.bbox_pred.weight.normal_(0, 0.03)
        head.bbox_pred.bias.normal_(0, 0.1)
    state = rpn.state_dict()
    torch.save(state, os.path.join(outdir, "rpn.weights.pth"))

    features = OrderedDict((n, torch.randn(BATCH[0], 256, BATCH[2] // s, BATCH[3] // s)) for n, s in zip(NAMES, STRIDES))
    images = ImageList(torch.zeros(BATCH), SIZES)
    io = OrderedDict()
    for n, f in features.items():
        io[f"features/{n}"] = f
    io["image_sizes"] = torch.tensor(SIZES, dtype=torch.int64)
    io["batch"] = torch.tensor(BATCH, dtype=torch.int64)

    rpn.eval()
    with torch.no_grad():
        boxes, losses = rpn(images, features)
    assert not losses
    for i, b in enumerate(boxes):
        io[f"eval/boxes/{i}"] = b

    for case, counts, seed in [("train", [4, 3], 11), ("train_empty", [5, 0], 12)]:
        targets = random_targets(counts)
        rpn.train()
        rpn.zero_grad()
        torch.manual_seed(seed)
        proposals, losses = rpn(images, features, targets)
        (losses["loss_objectness"] + losses["loss_rpn_box_reg"]).backward()
        io[f"{case}/seed"] = torch.tensor(seed)
        for i, t in enumerate(targets):
            for k, v in t.items():
                io[f"{case}/{k}/{i}"] = v
        for i, p in enumerate(proposals):
            io[f"{case}/proposals/{i}"] = p.detach()
        for k, v in losses.items():
            io[f"{case}/{k}"] = v.detach()
        for name, p in rpn.named_parameters():
            io[f"{case}/grad/{name}"] = p.grad.clone()
    io["keys"] = keys
    torch.save(io, os.path.join(outdir, "rpn.io.pth"))

    legacy = OrderedDict((k.replace("head.conv.0.0.", "head.conv."), v) for k, v in state.items())
    legacy._metadata = OrderedDict((k, dict(v)) for k, v in state._metadata.items())
    legacy._metadata["head"]["version"] = 1
    check = keypointrcnn_resnet50_fpn(weights=None, weights_backbone=None).rpn
    check.load_state_dict(legacy)
    check.eval()
    with torch.no_grad():
        assert all(torch.equal(a, b) for a, b in zip(check(images, features)[0], boxes))
    torch.save(legacy, os.path.join(outdir, "rpn_legacy.weights.pth"))


if __name__ == "__main__":
    main()
