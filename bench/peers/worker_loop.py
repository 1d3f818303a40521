"""The peers' side of the benchmarks' JSON-line protocol: one request a line on stdin, one answer a line on stdout.

serve(handlers) answers {"ready": true} first, then each request {"op": NAME, ...} with handlers[NAME](request);
any failure answers {"error": "..."} and the peer keeps serving. Anything the handlers print goes to stderr, so
library chatter (the ONNX exporter's) never reaches the protocol.
"""
import contextlib
import gc
import json
import resource
import sys
import time


def serve(handlers):
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        r = json.loads(line)
        try:
            handler = handlers.get(r["op"])
            if handler is None:
                raise ValueError(f"unknown op '{r['op']}'")
            with contextlib.redirect_stdout(sys.stderr):
                answer = handler(r)
        except Exception as e:  # report, keep serving
            answer = {"error": f"{type(e).__name__}: {e}"}
        print(json.dumps(answer), flush=True)


def measure(iters, run):
    """Runs run() iters times after collecting earlier garbage: {"seconds": wall time, "faults": minor page faults meanwhile}."""
    gc.collect()  # earlier garbage is not this sample's cost
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    start = time.perf_counter()
    for _ in range(iters):
        run()
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "faults": resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults}
