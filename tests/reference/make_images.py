"""Image files in every variant Backbones decodes, with the pixels PIL decodes from them, for the decoder tests.

Usage: /usr/bin/python3 make_images.py OUTDIR

Writes OUTDIR/images/NAME (JPEG baseline/progressive/gray, EXIF orientations 1-8, PNG 8-bit/16-bit/gray/palette/
alpha/1-bit, GIF, WebP, BMP in its depths, and damaged files) and OUTDIR/manifest.json:
  {"decoded": {NAME: {"width", "height", "bits": 8|16, "pixels": "NAME.rgb"}}, "broken": [NAME, ...]}
and "transparent_gif_pixels": the pixel indices of transparent.gif that use its transparent colour;
where OUTDIR/pixels/NAME.rgb holds height x width x RGB samples (uint8, or uint16 little endian for 16-bit) as PIL sees the file:
ImageOps.exif_transpose(img).convert('RGB'). PIL cannot read 16-bit colour PNG as 16-bit, so those files are written
here by hand (zlib + struct) and their truth is the array written. Content comes from numpy's seeded generator.
"""
import io
import json
import os
import struct
import sys
import zlib

import numpy as np
from PIL import Image, ImageOps


def scene(h, w, seed):
    """Smooth gradients plus noise and a bright off-centre square: asymmetric, so a wrong rotation or flip shows."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([255 * x / max(w - 1, 1), 255 * y / max(h - 1, 1), 128 + 100 * np.sin(x / 5.0) * np.cos(y / 7.0)], -1)
    img += rng.normal(0, 20, img.shape)
    img[h // 5: h // 5 + h // 4, w // 8: w // 8 + w // 5] = [250, 30, 30]
    return np.clip(img, 0, 255).astype(np.uint8)


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png16(array):
    """A 16-bit PNG (gray if 2-D, RGB if 3-D) written by hand: signature, IHDR, one IDAT of filter-0 rows, IEND."""
    h, w = array.shape[:2]
    colour = 0 if array.ndim == 2 else 2
    rows = array.reshape(h, -1).astype(">u2").tobytes()
    stride = array[0].size * 2
    raw = b"".join(b"\x00" + rows[r * stride:(r + 1) * stride] for r in range(h))
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, colour, 0, 0, 0))
            + png_chunk(b"IDAT", zlib.compress(raw)) + png_chunk(b"IEND", b""))


def bmp(array, bits, masks=None, top_down=False):
    """A BMP written by hand: 16-bit with bit masks (565 or 555) or 24-bit, bottom-up or top-down."""
    h, w = array.shape[:2]
    stride = (w * bits + 31) // 32 * 4
    rows = []
    for r in range(h):
        px = array[r].astype(np.uint32)
        if bits == 16:
            (rm, gm, bm) = masks
            def field(v, m):
                shift = (m & -m).bit_length() - 1
                return (v * (m >> shift) // 255) << shift
            vals = field(px[:, 0], rm) | field(px[:, 1], gm) | field(px[:, 2], bm)
            row = vals.astype("<u2").tobytes()
        else:
            row = px[:, ::-1].astype(np.uint8).tobytes()
        rows.append(row + b"\x00" * (stride - len(row)))
    if not top_down:
        rows = rows[::-1]
    pixels = b"".join(rows)
    compression = 3 if masks else 0
    extra = struct.pack("<III", *masks) if masks else b""
    header = struct.pack("<IiiHHIIiiII", 40, w, -h if top_down else h, 1, bits, compression, len(pixels), 2835, 2835, 0, 0)
    offset = 14 + len(header) + len(extra)
    return b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset) + header + extra + pixels


def main():
    out = sys.argv[1]
    folder = os.path.join(out, "images")
    os.makedirs(folder, exist_ok=True)
    os.makedirs(os.path.join(out, "pixels"), exist_ok=True)
    decoded = {}

    def record(name, array, bits=8):
        array = np.ascontiguousarray(array)
        if array.ndim == 2:
            array = np.repeat(array[:, :, None], 3, axis=2)
        dtype = "<u2" if bits == 16 else np.uint8
        with open(os.path.join(out, "pixels", name + ".rgb"), "wb") as f:
            f.write(array.astype(dtype).tobytes())
        decoded[name] = {"width": int(array.shape[1]), "height": int(array.shape[0]), "bits": bits, "pixels": name + ".rgb"}

    def save_pil(name, img, **kwargs):
        img.save(os.path.join(folder, name), **kwargs)
        with Image.open(os.path.join(folder, name)) as back:
            record(name, np.asarray(ImageOps.exif_transpose(back).convert("RGB")))

    def save_bytes(name, data, truth=None, bits=8):
        with open(os.path.join(folder, name), "wb") as f:
            f.write(data)
        if truth is None:
            with Image.open(os.path.join(folder, name)) as back:
                truth = np.asarray(ImageOps.exif_transpose(back).convert("RGB"))
        record(name, truth, bits)

    rgb = scene(37, 53, 1)
    img = Image.fromarray(rgb)
    rgba = np.dstack([rgb, np.linspace(0, 255, 37 * 53).reshape(37, 53).astype(np.uint8)])
    gray = np.asarray(img.convert("L"))

    save_pil("baseline.jpg", img, quality=90)
    save_pil("baseline444.jpg", img, quality=95, subsampling=0)
    save_pil("progressive.jpg", img, quality=90, progressive=True)
    save_pil("gray.jpg", Image.fromarray(gray), quality=90)
    for orientation in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = orientation
        save_pil(f"orientation{orientation}.jpg", img, quality=95, exif=exif.tobytes())

    save_pil("rgb.png", img)
    save_pil("rgba.png", Image.fromarray(rgba, "RGBA"))
    save_pil("gray.png", Image.fromarray(gray))
    save_pil("gray_alpha.png", Image.fromarray(np.dstack([gray, gray[::-1]]), "LA"))
    save_pil("palette.png", img.quantize(colors=50))
    transparent = img.quantize(colors=50)
    transparent.info["transparency"] = 3
    save_pil("palette_transparent.png", transparent)
    save_pil("bilevel.png", img.convert("1"))
    save_pil("gray4bit.png", Image.fromarray(gray), bits=4)
    rng = np.random.default_rng(7)
    gray16 = rng.integers(0, 65536, (29, 31), dtype=np.uint16)
    rgb16 = rng.integers(0, 65536, (23, 19, 3), dtype=np.uint16)
    save_bytes("gray16.png", png16(gray16), gray16, bits=16)
    save_bytes("rgb16.png", png16(rgb16), rgb16, bits=16)

    save_pil("palette.gif", img.quantize(colors=64))
    gif_transparent = img.quantize(colors=64)
    save_pil("transparent.gif", gif_transparent, transparency=5)
    with Image.open(os.path.join(folder, "transparent.gif")) as back:
        transparent_pixels = np.flatnonzero(np.asarray(back) == back.info["transparency"]).tolist()
    save_pil("lossless.webp", img, lossless=True)

    save_pil("rgb24.bmp", img)
    save_pil("gray8.bmp", Image.fromarray(gray))
    save_pil("palette8.bmp", img.quantize(colors=200))
    save_pil("bilevel.bmp", img.convert("1"))
    save_pil("rgba32.bmp", Image.fromarray(rgba, "RGBA"))
    save_bytes("rgb565.bmp", bmp(rgb, 16, (0xF800, 0x07E0, 0x001F)))
    save_bytes("rgb555.bmp", bmp(rgb, 16, (0x7C00, 0x03E0, 0x001F)))
    save_bytes("topdown.bmp", bmp(rgb, 24, top_down=True))

    # Damaged and unsupported files: each must be refused with an error naming it.
    jpeg = open(os.path.join(folder, "baseline.jpg"), "rb").read()
    png = open(os.path.join(folder, "rgb.png"), "rb").read()
    broken = {
        "truncated.jpg": jpeg[: len(jpeg) // 2],
        "truncated.png": png[: len(png) // 2],
        "garbage_after_signature.png": png[:8] + bytes(range(256)) * 4,
        "text.jpg": b"this is not an image\n",
        "empty.png": b"",
        "rle8.bmp": bmp(rgb, 24)[:30] + struct.pack("<I", 1) + bmp(rgb, 24)[34:],
        "truncated.bmp": bmp(rgb, 24)[:500],
    }
    cmyk = io.BytesIO()
    img.convert("CMYK").save(cmyk, "JPEG")
    broken["cmyk.jpg"] = cmyk.getvalue()
    for name, data in broken.items():
        with open(os.path.join(folder, name), "wb") as f:
            f.write(data)

    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump({"decoded": decoded, "broken": sorted(broken), "transparent_gif_pixels": transparent_pixels}, f, indent=1)
    print(len(decoded), "decodable,", len(broken), "broken")


if __name__ == "__main__":
    main()
