"""Peer for bench/LoadBench: times torch.load of one file on request.

It lives as long as the benchmark, so neither Python's start-up nor
`import torch` is ever timed. One JSON request a line on stdin, one JSON
answer a line on stdout:

  {"path": "x.pth", "runs": 1, "weights_only": false}
    -> {"seconds": [0.061], "tensors": 320, "bytes": 102523238}
    or {"error": "..."} when that kind of load fails.

Run with Debian's PyTorch: /usr/bin/python3 bench/peers/torch_load.py
"""
import gc
import json
import sys
import time

import torch


def load_times(path, runs, weights_only):
    seconds, tensors, nbytes = [], 0, 0
    for _ in range(runs):
        gc.collect()  # last run's garbage is not this run's cost
        start = time.perf_counter()
        state = torch.load(path, map_location="cpu", weights_only=weights_only)
        seconds.append(time.perf_counter() - start)
        values = [v for v in state.values() if isinstance(v, torch.Tensor)]
        tensors = len(values)
        nbytes = sum(v.numel() * v.element_size() for v in values)
        del state, values  # freed outside the timed region, as on the C# side
    return {"seconds": seconds, "tensors": tensors, "bytes": nbytes}


def main():
    print(json.dumps({"ready": True, "torch": torch.__version__}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        try:
            answer = load_times(request["path"], int(request.get("runs", 1)), bool(request.get("weights_only", False)))
        except Exception as e:  # report, keep serving: the other loader may still work
            answer = {"error": f"{type(e).__name__}: {e}"}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
