"""Writes COUNT JPEG photos-alike for EmbedBench: 500 x 375 (every fourth one 375 x 500), smooth colour fields with
soft shapes and sensor-like noise, PIL quality 90, named 00000.jpg, 00001.jpg, ... in nested folders of 250.

Usage: /usr/bin/python3 make_jpegs.py OUTDIR COUNT
Image i depends only on i (numpy's generator seeded with i), so the set is the same on every machine.
"""
import os
import sys

import numpy as np
from PIL import Image, ImageDraw, ImageFilter


def picture(i):
    rng = np.random.default_rng(i)
    w, h = (375, 500) if i % 4 == 3 else (500, 375)
    # A smooth background: coarse random colours upsampled bicubically, like sky, walls, grass.
    coarse = (rng.random((4, 5, 3)) * 255).astype(np.uint8)
    img = Image.fromarray(coarse).resize((w, h), Image.BICUBIC)
    draw = ImageDraw.Draw(img)
    for _ in range(rng.integers(3, 9)):
        x0, y0 = rng.integers(0, w - 40), rng.integers(0, h - 40)
        x1, y1 = x0 + rng.integers(30, w // 2), y0 + rng.integers(30, h // 2)
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)([x0, y0, x1, y1], fill=colour)
    img = img.filter(ImageFilter.GaussianBlur(1.5))
    noisy = np.asarray(img).astype(np.float32) + rng.normal(0, 6, (h, w, 3))
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


def main():
    out, count = sys.argv[1], int(sys.argv[2])
    for i in range(count):
        folder = os.path.join(out, f"{i // 250:02d}")
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, f"{i:05d}.jpg")
        if not os.path.exists(path):
            picture(i).save(path, quality=90)
    print(count)


if __name__ == "__main__":
    main()
