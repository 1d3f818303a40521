"""Check that a .pth file (e.g. one written by Backbones) loads in real PyTorch
with torch.load(weights_only=True) and matches a reference checkpoint.

Usage: /usr/bin/python3 verify_checkpoint.py FILE REFERENCE [--parameters-as-tensors]

--parameters-as-tensors accepts a plain tensor where REFERENCE holds an nn.Parameter
(Backbones, like a state dict, keeps no Parameters).

Compares structure (including dict key order and OrderedDict._metadata),
tensor dtype/shape/stride/storage_offset/bytes, storage sharing and plain
values. Prints {"ok": ..., "problems": [...], "tensors": N, "loader": ...}
and exits 0 when ok, 1 otherwise.
"""
import io
import json
import pickle
import pickletools
import struct
import sys
from collections import OrderedDict

import torch

MAX_PROBLEMS = 100


def tensor_bytes(t):
    # uint8 view of a contiguous copy: exact for every dtype, NaN-safe to compare
    return t.detach().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()


def storage_key(t):
    """Identity of the memory a tensor lives in, or None for empty storages."""
    s = t.untyped_storage() if hasattr(t, "untyped_storage") else t.storage()
    if s.nbytes() == 0:
        return None  # empty storages all report data_ptr 0
    return s.data_ptr()


def make_binfloat_shim(base):
    """torch < 2.0's weights_only unpickler rejects BINFLOAT ('G'), which any
    float (e.g. an optimizer lr) produces; newer torch accepts it. This keeps
    every other restriction and turns each BINFLOAT into a LONG_BINGET of a
    pre-filled memo slot."""

    class BinFloatShim(base):
        def __init__(self, file, **kwargs):
            super().__init__(file, **kwargs)
            start = file.tell()
            ops = list(pickletools.genops(file))  # stops right after STOP
            end = file.tell()
            file.seek(start)
            raw = file.read(end - start)
            out = bytearray()
            for i, (op, arg, pos) in enumerate(ops):
                nxt = ops[i + 1][2] if i + 1 < len(ops) else end
                chunk = raw[pos - start:nxt - start]
                if op.name == "BINFLOAT":
                    slot = 0xF0000000 + i
                    self.memo[slot] = arg
                    chunk = pickle.LONG_BINGET + struct.pack("<I", slot)
                out += chunk
            buf = io.BytesIO(bytes(out))
            self.read, self.readline = buf.read, buf.readline

    return BinFloatShim


def safe_load(path):
    """torch.load(weights_only=True); returns (object, loader description)."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True), "weights_only"
    except pickle.UnpicklingError as e:
        if "Unsupported operand 71" not in str(e):
            raise
    import torch._weights_only_unpickler as wou
    original = wou.Unpickler
    wou.Unpickler = make_binfloat_shim(original)
    try:
        return (torch.load(path, map_location="cpu", weights_only=True),
                "weights_only+binfloat_shim")
    finally:
        wou.Unpickler = original


def same_plain(a, b):
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return struct.pack("<d", a) == struct.pack("<d", b)  # bitwise, NaN-safe
    return a == b


PARAMETERS_AS_TENSORS = False


def compare(a, b, path, problems, storages_a, storages_b):
    """Recursively compare loaded object a against reference b."""
    where = path or "<root>"
    if isinstance(b, torch.Tensor):
        if not isinstance(a, torch.Tensor):
            problems.append(f"{where}: expected tensor, got {type(a).__name__}")
            return
        storages_a[path] = storage_key(a)
        storages_b[path] = storage_key(b)
        # Backbones reads Parameters as plain tensors (a state dict holds no Parameters), so a rewrite may too.
        plain_ok = PARAMETERS_AS_TENSORS and isinstance(b, torch.nn.Parameter) and type(a) is torch.Tensor
        if type(a) is not type(b) and not plain_ok:
            problems.append(f"{where}: type {type(a).__name__} != {type(b).__name__}")
        if isinstance(b, torch.nn.Parameter) and not plain_ok and a.requires_grad != b.requires_grad:
            problems.append(f"{where}: requires_grad {a.requires_grad} != {b.requires_grad}")
        for attr in ("dtype", "shape", "stride", "storage_offset"):
            va, vb = getattr(a, attr), getattr(b, attr)
            va, vb = (va(), vb()) if callable(va) else (va, vb)
            if va != vb:
                problems.append(f"{where}: {attr} {va} != {vb}")
                return
        if tensor_bytes(a) != tensor_bytes(b):
            problems.append(f"{where}: values differ")
        return
    if isinstance(b, dict):
        if type(a) is not type(b):
            problems.append(f"{where}: type {type(a).__name__} != {type(b).__name__}")
            if not isinstance(a, dict):
                return
        ka, kb = list(a.keys()), list(b.keys())
        if ka != kb:
            missing = [k for k in kb if k not in a]
            extra = [k for k in ka if k not in b]
            if missing or extra:
                problems.append(f"{where}: missing keys {missing[:10]}, extra keys {extra[:10]}")
            else:
                problems.append(f"{where}: key order differs")
        for k in kb:
            if k in a:
                compare(a[k], b[k], f"{path}.{k}" if path else str(k), problems,
                        storages_a, storages_b)
        if isinstance(b, OrderedDict) and hasattr(b, "_metadata"):
            if not hasattr(a, "_metadata"):
                problems.append(f"{where}: _metadata missing")
            else:
                compare(a._metadata, b._metadata, f"{path}[_metadata]", problems, {}, {})
        return
    if isinstance(b, (list, tuple)):
        if type(a) is not type(b):
            problems.append(f"{where}: type {type(a).__name__} != {type(b).__name__}")
            return
        if len(a) != len(b):
            problems.append(f"{where}: length {len(a)} != {len(b)}")
            return
        for i, (x, y) in enumerate(zip(a, b)):
            compare(x, y, f"{path}.{i}" if path else str(i), problems, storages_a, storages_b)
        return
    if not same_plain(a, b):
        problems.append(f"{where}: value {a!r} != {b!r}")


def sharing_groups(storages):
    """Sets of key paths whose tensors share one storage (only groups of 2+)."""
    by_ptr = {}
    for path, key in storages.items():
        if key is not None:
            by_ptr.setdefault(key, []).append(path)
    return sorted(sorted(g) for g in by_ptr.values() if len(g) > 1)


def count_tensors(obj):
    if isinstance(obj, torch.Tensor):
        return 1
    if isinstance(obj, dict):
        obj = obj.values()
    elif not isinstance(obj, (list, tuple)):
        return 0
    return sum(count_tensors(v) for v in obj)


def check(obj, ref):
    """Returns (problems of obj against ref, empty when equal; tensors in obj)."""
    problems, sa, sb = [], {}, {}
    compare(obj, ref, "", problems, sa, sb)
    ga, gb = sharing_groups(sa), sharing_groups(sb)
    if ga != gb:
        problems.append(f"storage sharing differs: {ga} != {gb}")
    return problems, count_tensors(obj)


def main():
    global PARAMETERS_AS_TENSORS
    args = [a for a in sys.argv[1:] if a != "--parameters-as-tensors"]
    PARAMETERS_AS_TENSORS = len(args) != len(sys.argv) - 1
    if len(args) != 2:
        sys.exit(__doc__)
    file_path, ref_path = args
    result = {"ok": False, "problems": [], "tensors": 0}
    try:
        obj, result["loader"] = safe_load(file_path)
        ref, _ = safe_load(ref_path)
        problems, result["tensors"] = check(obj, ref)
    except Exception as e:  # a load failure is itself the finding
        problems = [f"load failed: {type(e).__name__}: {e}"]
    if len(problems) > MAX_PROBLEMS:
        problems = problems[:MAX_PROBLEMS] + [f"... {len(problems) - MAX_PROBLEMS} more"]
    result["problems"] = problems
    result["ok"] = not problems
    print(json.dumps(result, indent=1))
    sys.exit(0 if result["ok"] else 1)


if __name__ == "__main__":
    main()
