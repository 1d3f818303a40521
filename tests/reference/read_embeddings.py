"""Reads Backbones' embedding outputs with numpy, as a user would, and compares them with PyTorch's features.

Usage: /usr/bin/python3 read_embeddings.py EXPECTED.pth FILE.npy|FILE.csv [NAMES...]

EXPECTED.pth holds {"features": N x C} (classify_parity.py --features). Loads FILE with np.load (.npy, with
allow_pickle=False) or the csv module (.csv: header path,v0..; names in the first column), takes the names from
STEM.paths.txt for .npy, and prints one JSON line: {"shape", "dtype", "names", "max_abs_diff"} where max_abs_diff
compares row i of FILE with row i of the features (the rows must be in the same order).
"""
import csv
import json
import os
import sys

import numpy as np
import torch


def main():
    expected = torch.load(sys.argv[1])["features"].numpy()
    path = sys.argv[2]
    if path.endswith(".npy"):
        data = np.load(path, allow_pickle=False)
        with open(os.path.splitext(path)[0] + ".paths.txt", encoding="utf-8") as f:
            names = f.read().splitlines()
    else:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        assert rows[0] == ["path"] + [f"v{i}" for i in range(len(rows[0]) - 1)], rows[0][:3]
        names = [r[0] for r in rows[1:]]
        data = np.array([[float(v) for v in r[1:]] for r in rows[1:]], dtype=np.float32)
    diff = float(np.abs(data - expected).max()) if data.shape == expected.shape else None
    print(json.dumps({"shape": list(data.shape), "dtype": str(data.dtype), "names": names, "max_abs_diff": diff}))


if __name__ == "__main__":
    main()
