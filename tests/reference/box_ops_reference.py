"""torchvision 0.14's box operations on random and hand-made inputs, for the BoxOps, Nms, BoxCoder, Matcher and
BalancedPositiveNegativeSampler tests.

Usage: /usr/bin/python3 box_ops_reference.py OUT_DIR

Writes OUT_DIR/box_ops.json, a list of cases {"name", "op", ...settings}, and OUT_DIR/box_ops.pth with each case's
inputs and torchvision's outputs under "NAME/KEY":
  area           boxes -> area                                  (box_area)
  iou            boxes1, boxes2 -> iou                          (box_iou)
  clip           boxes, "size" [h, w] -> clipped                (clip_boxes_to_image)
  remove_small   boxes, "min_size" -> keep                      (remove_small_boxes)
  nms            boxes, scores, "iou_threshold" -> keep         (nms)
  batched_nms    boxes, scores, idxs, "iou_threshold" -> keep, offsets (the coordinate trick), per_category (vanilla)
  encode         reference/I, proposals/I, "weights" -> targets/I   (BoxCoder.encode)
  decode         rel_codes, boxes/I, "weights" -> decoded       (BoxCoder.decode)
  match          quality, "high", "low", "allow_low_quality" -> matches   (Matcher)
  sample         matched/I, "batch_size", "positive_fraction", "seed" -> positive/I, negative/I
                 (BalancedPositiveNegativeSampler after torch.manual_seed(seed))
"""
import json
import math
import os
import sys

import torch
from torchvision.models.detection import _utils as det_utils
from torchvision.ops import boxes as box_ops

generator = torch.Generator().manual_seed(31337)
cases, tensors = [], {}


def add(name, op, inputs, outputs, **settings):
    cases.append({"name": name, "op": op, **settings})
    for key, value in {**inputs, **outputs}.items():
        tensors[f"{name}/{key}"] = value


def random_boxes(n, extent=100.0, min_side=0.0, max_side=40.0, dtype=torch.float32):
    xy = torch.rand(n, 2, generator=generator, dtype=torch.float64) * extent
    wh = min_side + torch.rand(n, 2, generator=generator, dtype=torch.float64) * (max_side - min_side)
    return torch.cat([xy, xy + wh], 1).to(dtype)


def clustered_boxes(n, clusters, dtype=torch.float32):
    """Boxes jittered around a few centres, so that NMS has overlaps to suppress at every threshold."""
    centres = random_boxes(clusters, 200.0, 10.0, 60.0, torch.float64)
    pick = torch.randint(0, clusters, (n,), generator=generator)
    jitter = torch.randn(n, 4, generator=generator, dtype=torch.float64) * 6.0
    b = centres[pick] + jitter
    b = torch.stack([torch.minimum(b[:, 0], b[:, 2]), torch.minimum(b[:, 1], b[:, 3]),
                     torch.maximum(b[:, 0], b[:, 2]) + 0.5, torch.maximum(b[:, 1], b[:, 3]) + 0.5], 1)
    return b.to(dtype)


def area_iou_clip_small():
    for dtype in (torch.float32, torch.float64):
        tag = str(dtype)[6:]
        b1 = torch.cat([random_boxes(20, dtype=dtype), torch.tensor([[5, 5, 5, 9], [0, 0, 10, 10]], dtype=dtype)])
        b2 = torch.cat([random_boxes(15, dtype=dtype), torch.tensor([[0, 0, 10, 5], [200, 200, 230, 260]], dtype=dtype)])
        add(f"area_{tag}", "area", {"boxes": b1}, {"area": box_ops.box_area(b1)})
        add(f"iou_{tag}", "iou", {"boxes1": b1, "boxes2": b2}, {"iou": box_ops.box_iou(b1, b2)})
    b = random_boxes(30, extent=90.0, max_side=50.0) - 20.0
    add("clip_2d", "clip", {"boxes": b}, {"clipped": box_ops.clip_boxes_to_image(b, (50, 70))}, size=[50, 70])
    b3 = (random_boxes(15, extent=90.0, max_side=50.0) - 20.0).view(5, 3, 4)
    add("clip_3d", "clip", {"boxes": b3}, {"clipped": box_ops.clip_boxes_to_image(b3, (41, 33))}, size=[41, 33])
    for min_size in (1e-3, 1e-2, 5.0):
        b = random_boxes(40, max_side=12.0)
        # Sides exactly at, just under and just over the limit.
        edge = torch.tensor([[0, 0, min_size, 1], [0, 0, 1, min_size], [0, 0, min_size * 0.999, 1], [3, 3, 3 + min_size * 1.001, 3 + min_size * 1.001]])
        b = torch.cat([b, edge.to(torch.float32)])
        add(f"remove_small_{min_size}", "remove_small", {"boxes": b}, {"keep": box_ops.remove_small_boxes(b, min_size)}, min_size=min_size)


def nms_cases():
    for threshold in (0.3, 0.5, 0.7):
        b = clustered_boxes(300, 12)
        s = torch.rand(300, generator=generator)
        add(f"nms_{threshold}", "nms", {"boxes": b, "scores": s}, {"keep": box_ops.nms(b, s, threshold)}, iou_threshold=threshold)
    b = clustered_boxes(200, 8)
    s = (torch.rand(200, generator=generator) * 10).round() / 10  # many equal scores: the stable order decides
    add("nms_ties", "nms", {"boxes": b, "scores": s}, {"keep": box_ops.nms(b, s, 0.5)}, iou_threshold=0.5)
    b = clustered_boxes(150, 6, torch.float64)
    s = torch.rand(150, generator=generator, dtype=torch.float64)
    add("nms_float64", "nms", {"boxes": b, "scores": s}, {"keep": box_ops.nms(b, s, 0.6)}, iou_threshold=0.6)
    # IoU exactly 0.5 is not above 0.5: both boxes stay.
    b = torch.tensor([[0, 0, 10, 10], [0, 0, 10, 5], [0, 0, 10, 4.9]], dtype=torch.float32)
    s = torch.tensor([0.9, 0.8, 0.7])
    add("nms_at_threshold", "nms", {"boxes": b, "scores": s}, {"keep": box_ops.nms(b, s, 0.5)}, iou_threshold=0.5)
    for n, classes in ((200, 5), (1500, 4)):  # 800 coordinates take the offset trick, 6000 one NMS per category
        b = clustered_boxes(n, 10)
        s = torch.rand(n, generator=generator)
        idxs = torch.randint(0, classes, (n,), generator=generator)
        add(f"batched_nms_{n}", "batched_nms", {"boxes": b, "scores": s, "idxs": idxs},
            {"keep": box_ops.batched_nms(b, s, idxs, 0.5),
             "offsets": box_ops._batched_nms_coordinate_trick(b, s, idxs, 0.5),
             "per_category": box_ops._batched_nms_vanilla(b, s, idxs, 0.5)}, iou_threshold=0.5)


def coder_cases():
    for weights in ((1.0, 1.0, 1.0, 1.0), (10.0, 10.0, 5.0, 5.0)):
        tag = "rpn" if weights[0] == 1 else "roi_heads"
        coder = det_utils.BoxCoder(weights)
        reference = [random_boxes(7, min_side=1.0), random_boxes(5, min_side=1.0)]
        proposals = [random_boxes(7, min_side=1.0), random_boxes(5, min_side=1.0)]
        targets = coder.encode(reference, proposals)
        add(f"encode_{tag}", "encode", {**{f"reference/{i}": r for i, r in enumerate(reference)},
                                        **{f"proposals/{i}": p for i, p in enumerate(proposals)}},
            {f"targets/{i}": t for i, t in enumerate(targets)}, weights=list(weights))
        boxes = [random_boxes(6, min_side=1.0), random_boxes(4, min_side=1.0)]
        rel_codes = torch.randn(10, 4 * 3, generator=generator)
        rel_codes[0, 2] = 9.0  # beyond log(1000 / 16): clipped before exp
        rel_codes[3, 7] = 30.0
        add(f"decode_{tag}", "decode", {"rel_codes": rel_codes, **{f"boxes/{i}": b for i, b in enumerate(boxes)}},
            {"decoded": coder.decode(rel_codes, boxes)}, weights=list(weights))


def matcher_cases():
    gt = random_boxes(6, min_side=10.0)
    proposals = torch.cat([random_boxes(200, min_side=4.0), gt + torch.randn(6, 4, generator=generator)])
    quality = box_ops.box_iou(gt, proposals)
    for high, low, allow in ((0.7, 0.3, True), (0.5, 0.5, False), (0.7, 0.3, False), (0.5, 0.2, True)):
        matcher = det_utils.Matcher(high, low, allow_low_quality_matches=allow)
        add(f"match_{high}_{low}_{allow}", "match", {"quality": quality}, {"matches": matcher(quality.clone())},
            high=high, low=low, allow_low_quality=allow)
    # Hand-made: values exactly at the thresholds (as float32) and ties for the low-quality matches.
    quality = torch.tensor([[0.7, 0.3, 0.1, 0.1, 0.0, 0.25],
                            [0.2, 0.69999, 0.1, 0.25, 0.25, 0.0],
                            [0.0, 0.0, 0.3, 0.05, 0.0, 0.2],
                            [0.0, 0.0, 0.0, 0.15, 0.15, 0.0]])  # ground truth 3's best is a tie
    for allow in (True, False):
        add(f"match_hand_{allow}", "match", {"quality": quality},
            {"matches": det_utils.Matcher(0.7, 0.3, allow_low_quality_matches=allow)(quality.clone())},
            high=0.7, low=0.3, allow_low_quality=allow)


def sampler_cases():
    for batch_size, fraction, seed in ((256, 0.5, 7), (512, 0.25, 11), (20, 0.5, 3)):
        matched = []
        for n, p_pos in ((400, 0.05), (300, 0.5), (50, 0.1)):
            r = torch.rand(n, generator=generator)
            m = torch.zeros(n, dtype=torch.int64)
            m[r < 0.2] = -1
            m[r > 1 - p_pos] = torch.randint(1, 5, (int((r > 1 - p_pos).sum()),), generator=generator)
            matched.append(m)
        torch.manual_seed(seed)
        pos, neg = det_utils.BalancedPositiveNegativeSampler(batch_size, fraction)(matched)
        add(f"sample_{batch_size}_{fraction}", "sample", {f"matched/{i}": m for i, m in enumerate(matched)},
            {**{f"positive/{i}": p for i, p in enumerate(pos)}, **{f"negative/{i}": q for i, q in enumerate(neg)}},
            batch_size=batch_size, positive_fraction=fraction, seed=seed, images=len(matched))


def main():
    area_iou_clip_small()
    nms_cases()
    coder_cases()
    matcher_cases()
    sampler_cases()
    torch.save(tensors, os.path.join(sys.argv[1], "box_ops.pth"))
    with open(os.path.join(sys.argv[1], "box_ops.json"), "w") as f:
        json.dump(cases, f)


if __name__ == "__main__":
    main()
