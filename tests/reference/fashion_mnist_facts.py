"""Counts and pixel sums of Debian's Fashion-MNIST files, read with numpy alone, for the IdxReader tests.

Usage: /usr/bin/python3 fashion_mnist_facts.py FOLDER

Prints JSON: for "train" and "t10k", the image array's shape, the sum of all pixels, the pixel sums of images
0, 1, 1234 and the last, and the number of samples of each label.
"""
import gzip
import json
import sys

import numpy as np


def read(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    rank = raw[3]
    dims = np.frombuffer(raw, dtype=">i4", count=rank, offset=4)
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)


def main():
    folder = sys.argv[1]
    facts = {}
    for part in ("train", "t10k"):
        images = read(f"{folder}/{part}-images-idx3-ubyte.gz")
        labels = read(f"{folder}/{part}-labels-idx1-ubyte.gz")
        picked = [0, 1, 1234, len(images) - 1]
        facts[part] = {
            "shape": list(images.shape),
            "total": int(images.sum(dtype=np.int64)),
            "picked": picked,
            "sums": [int(images[i].sum(dtype=np.int64)) for i in picked],
            "labels": np.bincount(labels, minlength=10).tolist(),
        }
    print(json.dumps(facts))


if __name__ == "__main__":
    main()
