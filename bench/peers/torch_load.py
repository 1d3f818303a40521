"""Peer for bench/LoadBench: times torch.load of one file on request.

It lives as long as the benchmark, so neither Python's start-up nor
`import torch` is ever timed. One JSON request a line on stdin, one JSON
answer a line on stdout:

  {"path": "x.pth", "runs": 1, "weights_only": false, "fresh": false}
    -> {"seconds": [0.016], "faults": [3], "tensors": 320, "bytes": 102441032}
    or {"error": "..."} when that kind of load fails.

glibc's allocator is set as in LoadBench's own process (Libc.cs): freed
memory stays mapped for the next load, unless "fresh" asks to hand it back to
the kernel first (malloc_trim), so the load gets new pages as in a new process.

Run with Debian's PyTorch: /usr/bin/python3 bench/peers/torch_load.py
"""
import ctypes
import gc
import json
import resource
import sys
import time

import torch

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
libc = ctypes.CDLL("libc.so.6")


def load_times(path, runs, weights_only, fresh):
    seconds, faults, tensors, nbytes = [], [], 0, 0
    for _ in range(runs):
        gc.collect()  # last run's garbage is not this run's cost
        if fresh:
            libc.malloc_trim(0)
        faults_before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        start = time.perf_counter()
        state = torch.load(path, map_location="cpu", weights_only=weights_only)
        seconds.append(time.perf_counter() - start)
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults_before)
        values = [v for v in state.values() if isinstance(v, torch.Tensor)]
        tensors = len(values)
        nbytes = sum(v.numel() * v.element_size() for v in values)
        del state, values  # freed outside the timed region, as on the C# side
    return {"seconds": seconds, "faults": faults, "tensors": tensors, "bytes": nbytes}


def main():
    if libc.mallopt(M_MMAP_THRESHOLD, 32 << 20) != 1 or libc.mallopt(M_TRIM_THRESHOLD, 2**31 - 1) != 1:
        sys.exit("mallopt refused the settings")
    print(json.dumps({"ready": True, "torch": torch.__version__}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        try:
            answer = load_times(request["path"], int(request.get("runs", 1)),
                                bool(request.get("weights_only", False)), bool(request.get("fresh", False)))
        except Exception as e:  # report, keep serving: the other kind of load may still work
            answer = {"error": f"{type(e).__name__}: {e}"}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
