"""Reference outputs of torchvision 0.14's GeneralizedRCNNTransform for Backbones' RcnnTransform tests.

Usage: /usr/bin/python3 rcnn_transform_reference.py OUTDIR [--seed S]

Writes OUTDIR/transform.io.pth, from torch.manual_seed(0):
  {'images': [3 random C×H×W images of different sizes, one long enough that max_size binds],
   'targets': [{'boxes': N×4, 'labels': N, 'keypoints': N×17×3, 'masks': N×H×W uint8}, ...],
   'eval': {'batch', 'sizes': [[h, w], ...], 'targets'} with Keypoint R-CNN's settings (min_size 640..800, max 1333) in eval,
   'train': the same in train mode, after torch.manual_seed(S) (min sizes drawn by torch_choice),
   'train_draws': the min sizes torch_choice draws for 12 calls after torch.manual_seed(S),
   'post_in': [{'boxes', 'keypoints', 'scores'}] in the eval batch's coordinates, 'post_out': eval postprocess of them,
   'eval_batch_float_index': the eval batch through bilinear() with float32 source indices and weights}.

Bilinear interpolation changed between torch 1.13 and 2.x: here the source index scale * (dst + 0.5) - 0.5 and the
weights come out in double; libtorch 2.x computes them in the tensor's type (area_pixel_compute_source_index in
aten/src/ATen/native/UpSample.h casts 0.5 to scalar_t; the product is then rounded once, as a fused multiply-add
does), which moves upsampled values by up to ~7e-6 on [0, 1] images. bilinear() transcribes the kernel with either
precision; in double it reproduces this torch's interpolate (asserted below), in float32 what the libtorch 2.10 under
Backbones computes (its test measures ours against it).
"""
import argparse
import os

import torch
from torchvision.models.detection.transform import GeneralizedRCNNTransform

MIN_SIZES = (640, 672, 704, 736, 768, 800)


def target(h, w, n, k=17):
    xy1 = torch.rand(n, 2) * torch.tensor([w * 0.6, h * 0.6])
    wh = torch.rand(n, 2) * torch.tensor([w * 0.4, h * 0.4]) + 1
    boxes = torch.cat([xy1, xy1 + wh], 1)
    kp = torch.rand(n, k, 3) * torch.tensor([w, h, 1.0])
    kp[..., 2] = (kp[..., 2] > 0.3).float() * 2
    masks = (torch.rand(n, h, w) > 0.5).to(torch.uint8)
    return {"boxes": boxes, "labels": torch.ones(n, dtype=torch.int64), "keypoints": kp, "masks": masks}


def bilinear(image, out_h, out_w, index_dtype):
    """upsample_bilinear2d (align_corners=False) of a C×H×W image: source index rounded to index_dtype, weights computed
    in it, applied in float32."""
    def taps(in_size, out_size):
        scale = torch.tensor(in_size, dtype=torch.float32) / torch.tensor(out_size, dtype=torch.float32)
        dst = torch.arange(out_size, dtype=torch.float64)
        src = (scale.double() * (dst + 0.5) - 0.5).clamp(min=0).to(index_dtype)
        i0 = src.floor().long().clamp(max=in_size - 1)
        i1 = torch.where(i0 < in_size - 1, i0 + 1, i0)
        l1 = (src - i0.to(index_dtype)).clamp(0, 1)
        return i0, i1, (1 - l1).to(torch.float32), l1.to(torch.float32)
    h0, h1, hl0, hl1 = taps(image.shape[1], out_h)
    w0, w1, wl0, wl1 = taps(image.shape[2], out_w)
    top = image[:, h0][:, :, w0] * wl0 + image[:, h0][:, :, w1] * wl1
    bottom = image[:, h1][:, :, w0] * wl0 + image[:, h1][:, :, w1] * wl1
    return top * hl0[:, None] + bottom * hl1[:, None]


def run(transform, images, targets):
    out, new_targets = transform([i.clone() for i in images], [dict(t) for t in targets])
    return {"batch": out.tensors, "sizes": [list(s) for s in out.image_sizes], "targets": new_targets}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("outdir")
    p.add_argument("--seed", type=int, default=1234)
    a = p.parse_args()
    torch.manual_seed(0)
    shapes = [(3, 60, 80), (3, 75, 61), (3, 40, 160)]
    images = [torch.rand(*s) for s in shapes]
    targets = [target(s[1], s[2], n) for s, n in zip(shapes, (2, 3, 1))]
    transform = GeneralizedRCNNTransform(MIN_SIZES, 1333, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225])

    transform.eval()
    evaluated = run(transform, images, targets)
    transform.train()
    torch.manual_seed(a.seed)
    trained = run(transform, images, targets)
    torch.manual_seed(a.seed)
    draws = [transform.torch_choice(list(MIN_SIZES)) for _ in range(12)]

    transform.eval()
    post_in = []
    for (h, w) in evaluated["sizes"]:
        post_in.append({"boxes": target(h, w, 4)["boxes"], "keypoints": target(h, w, 4)["keypoints"], "scores": torch.rand(4)})
    post_out = transform.postprocess([dict(r) for r in post_in], [tuple(s) for s in evaluated["sizes"]], [tuple(s[1:]) for s in shapes])
    float_index = torch.zeros_like(evaluated["batch"])
    for i, (image, (h, w)) in enumerate(zip(images, evaluated["sizes"])):
        normalised = transform.normalize(image)
        reproduced = bilinear(normalised, h, w, torch.float64)
        expected = torch.nn.functional.interpolate(normalised[None], size=(h, w), mode="bilinear", align_corners=False)[0]
        assert (reproduced - expected).abs().max() < 1e-6, "the transcription does not reproduce this torch's bilinear"
        float_index[i, :, :h, :w] = bilinear(normalised, h, w, torch.float32)

    torch.save({"eval_batch_float_index": float_index, "images": images, "targets": targets, "eval": evaluated, "train": trained, "train_draws": draws,
                "post_in": post_in, "post_out": post_out}, os.path.join(a.outdir, "transform.io.pth"))


if __name__ == "__main__":
    main()
