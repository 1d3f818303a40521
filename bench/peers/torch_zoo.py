"""Peer for bench/ZooBench: prepares models (weights + ONNX) and runs Debian
PyTorch's eager forward on request.

It lives as long as the benchmark, so neither Python's start-up nor
`import torch` is ever timed. One JSON request a line on stdin, one JSON
answer a line on stdout (ZooBench's own C# workers speak the same protocol):

  {"op": "prepare", "model": "resnet50", "dir": "bench/results/data/zoo"}
    -> {"weights": ".../resnet50.pth", "onnx": ".../resnet50.onnx", "opset": 17}
  {"op": "load", "model": "resnet50", "weights": "...",
   "input": "input.bin", "shape": [2, 3, 224, 224], "variant": {...}}
    -> {"logits": [...], "version": "..."}   (the forward of the check input)
  {"op": "time", "batch": 8, "iters": 4}
    -> {"seconds": 1.23, "faults": 17}  (iters forwards, minor page faults meanwhile)
  {"op": "drop"} -> {}
One engine at a time: "load" replaces the last one. Any failure answers
{"error": "..."} and the peer keeps serving.

variant: "grad": "inference_mode" (default) or "no_grad"; "channels_last":
true converts the model once and the input inside every timed forward;
"fold_bn": true fuses eval BatchNorm into the convolution before it
(torch.fx.experimental.optimization.fuse).

Run with Debian's PyTorch: /usr/bin/python3 bench/peers/torch_zoo.py
"""
import gc
import os

import numpy as np
import torch
import torchvision

from worker_loop import measure, serve

THREADS = 2
OPSET = 17  # the newest opset torch 1.13's exporter writes
VERSION = f"PyTorch {torch.__version__}, torchvision {torchvision.__version__}"


def prepare(model, dir):
    """Random weights (BatchNorm statistics too, so folding them is tested) and the ONNX export, once per model."""
    weights, onnx = os.path.join(dir, f"{model}.pth"), os.path.join(dir, f"{model}.onnx")
    if not (os.path.exists(weights) and os.path.exists(onnx)):
        builder = getattr(torchvision.models, model, None)
        if not callable(builder):
            raise ValueError(f"torchvision {torchvision.__version__} has no model '{model}'")
        torch.manual_seed(0)
        net = builder(weights=None).eval()
        with torch.no_grad():
            for m in net.modules():
                if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                    m.weight.uniform_(0.5, 1.5)
                    m.bias.normal_(0, 0.1)
                    m.running_mean.normal_(0, 0.1)
                    m.running_var.uniform_(0.5, 1.5)
        os.makedirs(dir, exist_ok=True)
        torch.save(net.state_dict(), weights + ".tmp")
        torch.onnx.export(net, torch.randn(1, 3, 224, 224), onnx + ".tmp", opset_version=OPSET,
                          input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
        os.replace(weights + ".tmp", weights)  # a reader never sees half a file
        os.replace(onnx + ".tmp", onnx)
    return {"weights": weights, "onnx": onnx, "opset": OPSET}


class Engine:
    def __init__(self, model, weights, input, shape, variant):
        net = getattr(torchvision.models, model)(weights=None)
        net.load_state_dict(torch.load(weights, map_location="cpu"))
        net.eval()
        if variant.get("fold_bn"):
            from torch.fx.experimental.optimization import fuse
            net = fuse(net)
        self.channels_last = bool(variant.get("channels_last"))
        if self.channels_last:
            net = net.to(memory_format=torch.channels_last)
        self.grad = {"inference_mode": torch.inference_mode, "no_grad": torch.no_grad}[variant.get("grad", "inference_mode")]
        self.net = net
        self.input = torch.from_numpy(np.fromfile(input, dtype="<f4")).reshape(shape)

    def forward(self, x):
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.net(x)

    def logits(self):
        with self.grad():
            return self.forward(self.input).flatten().tolist()

    def time(self, batch, iters):
        x = self.input.repeat((batch + len(self.input) - 1) // len(self.input), 1, 1, 1)[:batch].contiguous()
        with self.grad():
            return measure(iters, lambda: self.forward(x))


def main():
    torch.set_num_threads(THREADS)
    state = {"engine": None}

    def load(r):
        state["engine"] = None  # freed before the next one is built
        state["engine"] = Engine(r["model"], r["weights"], r["input"], r["shape"], r.get("variant") or {})
        return {"logits": state["engine"].logits(), "version": VERSION}

    def drop(r):
        state["engine"] = None
        gc.collect()
        return {}

    serve({"prepare": lambda r: prepare(r["model"], r["dir"]), "load": load,
           "time": lambda r: state["engine"].time(int(r["batch"]), int(r["iters"])), "drop": drop})


if __name__ == "__main__":
    main()
