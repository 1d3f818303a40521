"""Write reference checkpoints made by real PyTorch (plus two old formats built
by hand) and OUTDIR/manifest.json describing exactly what each one holds, so
the C# reader can be tested against facts PyTorch established.

Usage: /usr/bin/python3 make_checkpoints.py OUTDIR [--marker PATH]

Every file except hostile_os_system.pth is read back with torch.load and
compared with what was saved before the manifest is written. The hostile file
is never loaded: unpickling it would run `touch MARKER`.
"""
import argparse
import io
import json
import os
import pickle
import pickletools
import shlex
import struct
import sys
import tarfile
import zipfile
from collections import OrderedDict

import torch
import torchvision

sys.dont_write_bytecode = True  # keep __pycache__ out of tests/reference
from verify_checkpoint import check, sharing_groups, storage_key, tensor_bytes

P = pickle  # opcode constants, used by the hand-written pickles
SYS_INFO = {"protocol_version": 1001, "little_endian": True,
            "type_sizes": {"short": 2, "int": 4, "long": 4}}
MAGIC_NUMBER = 0x1950a86a20f9469cfc6c  # torch.serialization.MAGIC_NUMBER


# ---------------------------------------------------------------- contents

def dtypes_dict():
    """One tensor per dtype, odd shapes, and views sharing one storage."""
    g = lambda *s: torch.randn(*s)
    ints = lambda lo, hi, fixed, dt: torch.cat(
        [torch.tensor(fixed, dtype=torch.int64), torch.randint(lo, hi, (6,))]).to(dt)
    d = OrderedDict()
    d["float32"] = g(2, 3)
    d["float16"] = g(5).half()
    # specials make the comparison prove it is bitwise (NaN, -0.0, inf)
    d["float64"] = torch.cat([g(4).double(), torch.tensor(
        [float("nan"), float("inf"), -float("inf"), -0.0], dtype=torch.float64)])
    d["bfloat16"] = g(2, 2).bfloat16()
    d["int8"] = ints(-128, 128, [-128, 127, -1], torch.int8)
    d["int16"] = ints(-2**15, 2**15, [-2**15, 2**15 - 1, -1], torch.int16)
    d["int32"] = ints(-2**31, 2**31, [-2**31, 2**31 - 1, -1], torch.int32)
    d["int64"] = ints(-2**62, 2**62, [-2**63, 2**63 - 1, 2**40 + 3, -(2**41) - 7], torch.int64)
    d["uint8"] = ints(0, 256, [0, 255, 128], torch.uint8)
    d["bool"] = torch.rand(7) > 0.5
    d["complex64"] = torch.randn(3, dtype=torch.complex64)
    d["scalar"] = torch.tensor(3.25)
    d["empty"] = torch.empty(0, 3)
    base = g(4, 6)
    d["base"] = base
    d["row_view"] = base[1:3]
    d["transposed"] = base.t()
    d["strided"] = base[:, ::2]
    d["num_batches_tracked"] = torch.tensor(7, dtype=torch.int64)
    return d


def wrapped_dict():
    """A training-script style checkpoint: model, optimizer and plain values."""
    nn = torch.nn
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(),
                          nn.Flatten(), nn.Linear(4 * 6 * 6, 5))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loss = model(torch.randn(2, 3, 8, 8)).square().mean()
    loss.backward()
    opt.step()  # creates momentum_buffer state keyed by int param index
    return {"state_dict": model.state_dict(), "epoch": 3, "arch": "tiny",
            "best_acc1": 71.5, "flags": [True, None, 2.5, "x"], "shape": (1, 2),
            "optimizer": opt.state_dict()}


class Evil:
    """Unpickles to os.system(cmd); used only to write the hostile file."""

    def __init__(self, cmd):
        self.cmd = cmd

    def __reduce__(self):
        return (os.system, (self.cmd,))


def save_cuda_legacy(obj, path):
    """Legacy save with every storage tagged 'cuda:0' although we have no GPU."""
    real = torch.serialization.location_tag
    torch.serialization.location_tag = lambda storage: "cuda:0"
    try:
        torch.save(obj, path, _use_new_zipfile_serialization=False)
    finally:
        torch.serialization.location_tag = real


# ------------------------------------------------------ hand-built formats

def raw(t):
    assert sys.byteorder == "little"
    return t.contiguous().numpy().tobytes()


def tar_contents():
    """Expected object for tar_format.pth plus the storage table behind it.

    Storage 0 (float) holds three tensors at different offsets, one of them
    transposed; storage 2 is a storage *view* of storage 1 (int64) starting at
    element 4, and 'viewed' sits at offset 1 inside that view."""
    s0 = torch.randn(10)
    s1 = torch.tensor([-2**40, 2**41 + 1, -3, 4, 50, 2**62, -(2**62), 7, 8, 9])
    view = torch.storage.TypedStorage(wrap_storage=s1.storage()._storage[4 * 8:7 * 8],
                                      dtype=torch.int64)
    obj = {
        "weight": torch.as_strided(s0, (2, 3), (3, 1), 0),
        "weight_t": torch.as_strided(s0, (3, 2), (1, 3), 0),
        "tail": torch.as_strided(s0, (4,), (1,), 6),
        "viewed": torch.tensor([], dtype=torch.int64).set_(view, 1, (2,), (1,)),
        "epoch": 7,
    }
    storages = [(0, torch.FloatStorage, s0), (1, torch.LongStorage, s1)]
    views = [(2, 1, 4, 3)]  # (view key, root key, offset, numel) in elements
    tensors = [("weight", 0, torch.FloatTensor), ("weight_t", 0, torch.FloatTensor),
               ("tail", 0, torch.FloatTensor), ("viewed", 2, torch.LongTensor)]
    return obj, storages, views, tensors


def write_tar(path):
    obj, storages, views, tensors = tar_contents()
    dump = lambda o: pickle.dumps(o, protocol=2)
    st = io.BytesIO()
    st.write(dump(len(storages)))
    for key, stype, data in storages:
        st.write(dump((key, "cpu", stype)))
        st.write(struct.pack("<q", data.numel()) + raw(data))
    st.write(dump(views))

    tn = io.BytesIO()
    tn.write(dump(len(tensors)))
    pid = {}
    for j, (name, storage_id, ttype) in enumerate(tensors):
        t = obj[name]
        key = 1000 + j  # tensor and storage keys share one namespace in the loader
        pid[id(t)] = str(key)  # str: torch 1.13's weights_only rejects int pids
        tn.write(dump((key, storage_id, ttype)))
        tn.write(struct.pack("<i", t.dim()) + b"\0" * 4)
        tn.write(struct.pack(f"<{t.dim()}q", *t.shape))
        tn.write(struct.pack(f"<{t.dim()}q", *t.stride()))
        tn.write(struct.pack("<q", t.storage_offset()))

    pk = io.BytesIO()
    pickler = pickle.Pickler(pk, protocol=2)
    pickler.persistent_id = lambda o: pid.get(id(o)) if isinstance(o, torch.Tensor) else None
    pickler.dump(obj)

    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, buf in [("sys_info", io.BytesIO(dump(SYS_INFO))), ("pickle", pk),
                          ("tensors", tn), ("storages", st)]:
            info = tarfile.TarInfo(name)
            info.size = len(buf.getvalue())
            tar.addfile(info, io.BytesIO(buf.getvalue()))
    return obj


class PickleWriter:
    """Emits protocol-2 opcodes one by one, as torch 0.1/0.2's pickles had them."""

    def __init__(self):
        self.out = bytearray(P.PROTO + b"\x02")
        self.memo = {}

    def op(self, *chunks):
        for c in chunks:
            self.out += c

    def int(self, n):
        self.op(P.BININT1 + bytes([n]) if 0 <= n < 256 else P.BININT + struct.pack("<i", n))

    def str(self, s):
        b = s.encode()
        self.op(P.BINUNICODE + struct.pack("<I", len(b)) + b)

    def glob(self, module, name):
        self.op(P.GLOBAL + f"{module}\n{name}\n".encode())

    def int_tuple(self, values):
        if not values:
            return self.op(P.EMPTY_TUPLE)
        self.op(P.MARK)
        for v in values:
            self.int(v)
        self.op(P.TUPLE)

    def storage(self, stype, key, numel):
        """Persistent id ('storage', type, key, 'cpu', numel, None), memoised."""
        if key in self.memo:
            return self.op(P.BINGET + bytes([self.memo[key]]))
        self.op(P.MARK)
        self.str("storage")
        self.glob("torch", stype)
        self.str(key)
        self.str("cpu")
        self.int(numel)
        self.op(P.NONE, P.TUPLE, P.BINPERSID)
        self.memo[key] = len(self.memo)
        self.op(P.BINPUT + bytes([self.memo[key]]))

    def old_tensor(self, ttype, stype, key, numel, t):
        """GLOBAL torch.XTensor, () REDUCE, then BUILD with the 4-tuple state
        (storage, offset, size, stride) that Tensor.__setstate__ passes to set_.
        REDUCE, not NEWOBJ: torch's weights_only loader allows NEWOBJ only for
        Parameter."""
        self.glob("torch", ttype)
        self.op(P.EMPTY_TUPLE, P.REDUCE, P.MARK)
        self.storage(stype, key, numel)
        self.int(t.storage_offset())
        self.int_tuple(t.shape)
        self.int_tuple(t.stride())
        self.op(P.TUPLE, P.BUILD)


def write_setstate(path):
    s0 = torch.randn(10)
    s1 = torch.tensor([2**40 + 5, -(2**45), 0, -1])
    obj = {"weight": torch.as_strided(s0, (2, 3), (3, 1), 0),
           "weight_t": torch.as_strided(s0, (3, 2), (1, 3), 0),
           "tail": torch.as_strided(s0, (3,), (1,), 6),
           "scalar": torch.as_strided(s0, (), (), 9),
           "steps": torch.as_strided(s1, (4,), (1,), 0)}
    w = PickleWriter()
    w.op(P.EMPTY_DICT, P.MARK)
    for name, t in obj.items():
        w.str(name)
        if t.dtype == torch.float32:
            w.old_tensor("FloatTensor", "FloatStorage", "0", 10, t)
        else:
            w.old_tensor("LongTensor", "LongStorage", "1", 4, t)
    w.op(P.SETITEMS, P.STOP)

    dump = lambda o: pickle.dumps(o, protocol=2)
    with open(path, "wb") as f:
        f.write(dump(MAGIC_NUMBER) + dump(1001) + dump(SYS_INFO) + bytes(w.out))
        f.write(dump(["0", "1"]))
        for data in (s0, s1):
            f.write(struct.pack("<q", data.numel()) + raw(data))
    return obj


# ----------------------------------------------------------------- manifest

DTYPE_NAMES = {torch.float32: "float32", torch.float16: "float16", torch.float64: "float64",
               torch.bfloat16: "bfloat16", torch.int8: "int8", torch.int16: "int16",
               torch.int32: "int32", torch.int64: "int64", torch.uint8: "uint8",
               torch.bool: "bool", torch.complex64: "complex64"}


def walk(obj, path=""):
    """Yields (dotted path, node) for every node, containers included."""
    yield path, obj
    if isinstance(obj, dict):
        items = obj.items()
    elif isinstance(obj, (list, tuple)):
        items = enumerate(obj)
    else:
        return
    for k, v in items:
        yield from walk(v, f"{path}.{k}" if path else str(k))


def pickle_globals(path, fmt):
    """[module, name] of every GLOBAL in the file's main pickle."""
    if fmt == "pth-zip":
        with zipfile.ZipFile(path) as z:
            stream = io.BytesIO(z.read(next(n for n in z.namelist() if n.endswith("/data.pkl"))))
    elif fmt == "pth-tar":
        with tarfile.open(path) as t:
            stream = io.BytesIO(t.extractfile("pickle").read())
    else:
        stream = open(path, "rb")
        for _ in range(3):  # magic number, protocol version, sys_info
            list(pickletools.genops(stream))
    with stream:
        found = {arg for op, arg, _ in pickletools.genops(stream) if op.name == "GLOBAL"}
    return sorted(g.split(" ", 1) for g in found)


def describe(obj, fname, fmt, outdir):
    entry = {"format": fmt, "tensors": {}, "values": {}, "shared_storage_groups": []}
    storages, metadata = {}, {}
    os.makedirs(os.path.join(outdir, "expected", fname), exist_ok=True)
    for path, node in walk(obj):
        if isinstance(node, torch.Tensor):
            rel = f"expected/{fname}/{len(entry['tensors'])}.bin"
            with open(os.path.join(outdir, rel), "wb") as f:
                f.write(tensor_bytes(node))
            info = {"dtype": DTYPE_NAMES[node.dtype], "shape": list(node.shape),
                    "stride": list(node.stride()), "storage_offset": node.storage_offset(),
                    "bytes": rel}
            if isinstance(node, torch.nn.Parameter):
                info["parameter"] = True
                info["requires_grad"] = node.requires_grad
            entry["tensors"][path] = info
            storages[path] = storage_key(node)
        elif isinstance(node, dict):
            if hasattr(node, "_metadata"):
                metadata[path] = node._metadata
        elif not isinstance(node, (list, tuple)):
            assert node is None or isinstance(node, (bool, int, float, str)), (path, node)
            entry["values"][path] = node
    entry["shared_storage_groups"] = sharing_groups(storages)
    if metadata:
        entry["metadata"] = metadata
    entry["pickle_globals"] = pickle_globals(os.path.join(outdir, fname), fmt)
    return entry


def reload_and_check(path, expected, **load_args):
    loaded = torch.load(path, **load_args)
    problems, _ = check(loaded, expected)
    if problems:
        sys.exit(f"{path} did not load back equal: {problems}")
    return loaded


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir")
    ap.add_argument("--marker", help="file the hostile pickle would create (default OUTDIR/pwned_marker)")
    args = ap.parse_args()
    out = args.outdir
    marker = os.path.abspath(args.marker or os.path.join(out, "pwned_marker"))
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    files = {}

    def saved(fname, fmt, expected, **load_args):
        path = os.path.join(out, fname)
        loaded = reload_and_check(path, expected, **load_args)
        files[fname] = describe(loaded, fname, fmt, out)
        print(f"wrote {path}", file=sys.stderr)

    sd = torchvision.models.resnet18(weights=None).state_dict()
    torch.save(sd, os.path.join(out, "resnet18_zip.pth"))
    saved("resnet18_zip.pth", "pth-zip", sd)

    d = dtypes_dict()
    torch.save(d, os.path.join(out, "dtypes_zip.pth"))
    saved("dtypes_zip.pth", "pth-zip", d)
    torch.save(d, os.path.join(out, "dtypes_legacy.pth"), _use_new_zipfile_serialization=False)
    saved("dtypes_legacy.pth", "pth-legacy", d)

    w = wrapped_dict()
    torch.save(w, os.path.join(out, "wrapped.pth"))
    saved("wrapped.pth", "pth-zip", w)

    p = {"w": torch.nn.Parameter(torch.randn(3, 2)),
         "b": torch.nn.Parameter(torch.zeros(2), requires_grad=False)}
    torch.save(p, os.path.join(out, "parameter.pth"))
    saved("parameter.pth", "pth-zip", p)

    c = OrderedDict(weight=torch.randn(2, 3), bias=torch.randn(2),
                    steps=torch.tensor(5, dtype=torch.int64))
    save_cuda_legacy(c, os.path.join(out, "cuda_legacy.pth"))
    saved("cuda_legacy.pth", "pth-legacy", c, map_location="cpu")
    files["cuda_legacy.pth"]["storage_location"] = "cuda:0"

    t = write_tar(os.path.join(out, "tar_format.pth"))
    saved("tar_format.pth", "pth-tar", t)

    s = write_setstate(os.path.join(out, "setstate_legacy.pth"))
    saved("setstate_legacy.pth", "pth-legacy", s)

    # Never loaded. The global is read from the pickle bytes, not assumed.
    hostile = os.path.join(out, "hostile_os_system.pth")
    torch.save({"x": Evil("touch " + shlex.quote(marker))}, hostile)
    globs = pickle_globals(hostile, "pth-zip")
    assert len(globs) == 1, globs
    files["hostile_os_system.pth"] = {
        "format": "pth-zip", "tensors": {}, "values": {}, "shared_storage_groups": [],
        "pickle_globals": globs,
        "unsafe_global": {"module": globs[0][0], "name": globs[0][1]}, "marker": marker}
    if os.path.exists(marker):
        print(f"warning: marker {marker} already exists", file=sys.stderr)

    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump({"torch_version": torch.__version__, "files": files}, f, indent=1)
    print(f"wrote {os.path.join(out, 'manifest.json')}", file=sys.stderr)


if __name__ == "__main__":
    main()
