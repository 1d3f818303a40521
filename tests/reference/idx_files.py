"""IDX files written by numpy, and what they hold, for the IdxReader tests.

Usage: /usr/bin/python3 idx_files.py SPEC.json FOLDER

SPEC.json is a list of {"name", "dtype": "uint8"|"int8"|"int16"|"int32"|"float32"|"float64", "shape": [...], "gzip": bool}.
Each file is written with numpy in the IDX layout (two zero bytes, the type byte, the rank, big-endian int32 dimensions,
big-endian values) from random values covering the type's range, and FOLDER/expected.pth maps each name to the values
as a tensor of that dtype, written by torch.save.
"""
import gzip
import json
import sys

import numpy as np
import torch

TYPE_CODES = {"uint8": 0x08, "int8": 0x09, "int16": 0x0B, "int32": 0x0C, "float32": 0x0D, "float64": 0x0E}


def values(dtype, shape, rng):
    if dtype.startswith("float"):
        return (rng.standard_normal(shape) * 1e3).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, int(info.max) + 1, size=shape, dtype=np.int64).astype(dtype)


def main():
    spec = json.load(open(sys.argv[1]))
    folder = sys.argv[2]
    rng = np.random.default_rng(20240607)
    expected = {}
    for entry in spec:
        data = values(entry["dtype"], tuple(entry["shape"]), rng)
        header = bytes([0, 0, TYPE_CODES[entry["dtype"]], len(entry["shape"])])
        header += np.array(entry["shape"], dtype=">i4").tobytes()
        body = header + data.astype(data.dtype.newbyteorder(">")).tobytes()
        opener = gzip.open if entry["gzip"] else open
        with opener(f"{folder}/{entry['name']}", "wb") as f:
            f.write(body)
        expected[entry["name"]] = torch.from_numpy(np.ascontiguousarray(data))
    torch.save(expected, f"{folder}/expected.pth")


if __name__ == "__main__":
    main()
