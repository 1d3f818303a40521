"""torch.nn.init's fans, gains, structured fills and seeded draws, for Backbones' initialiser tests.

Usage: /usr/bin/python3 nn_init.py
Prints one JSON object:
  fans:   [[shape, fan_in, fan_out] or [shape, "error"]] from _calculate_fan_in_and_fan_out
  gains:  [[nonlinearity, param, gain] or [nonlinearity, param, "error"]] from calculate_gain
  fills:  [[call, shape, values] or [call, shape, "error"]] for eye_ and dirac_ (deterministic)
  seeded: [[call, seed, shape, values]]: torch.manual_seed(seed), then the call on torch.empty(shape) (float32)
Values are the tensors flattened row-major; Python's float repr round-trips them exactly.
"""
import json
import math

import torch
import torch.nn.init as init

FAN_SHAPES = [[3], [], [5, 7], [7, 5], [16, 3, 3, 3], [64, 64, 1, 1], [32, 1, 3, 3], [8, 4, 5], [4, 6, 3, 5, 7],
              [3, 16, 2, 2], [1, 1], [0, 5], [10, 0, 3, 3]]
GAINS = [(name, None) for name in ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                                   "conv_transpose3d", "sigmoid", "tanh", "relu", "leaky_relu", "selu"]] + \
        [("leaky_relu", 0.2), ("leaky_relu", 0.0), ("leaky_relu", math.sqrt(5)), ("leaky_relu", -1.5), ("relu", 3.0),
         ("tanh", 0.5), ("gelu", None), ("Tanh", None), ("silu", None)]
FILLS = [("eye_", [3, 5], {}), ("eye_", [5, 3], {}), ("eye_", [4, 4], {}), ("eye_", [2, 3, 4], {}), ("eye_", [4], {}),
         ("dirac_", [4, 3, 3], {}), ("dirac_", [3, 5, 3, 3], {}), ("dirac_", [6, 2, 2, 4], {"groups": 3}),
         ("dirac_", [4, 4, 3, 3, 3], {"groups": 2}), ("dirac_", [2, 6, 5, 4], {}), ("dirac_", [5, 2, 3, 3], {"groups": 2}),
         ("dirac_", [3, 3], {}), ("dirac_", [2, 2, 1, 1, 1, 1], {})]
SEEDED = [("uniform_", 0, [3, 7], {"a": -0.5, "b": 2.0}),
          ("normal_", 1, [5, 9], {"mean": 0.3, "std": 2.0}),
          ("xavier_uniform_", 2, [6, 4, 3, 3], {"gain": 5.0 / 3}),
          ("xavier_normal_", 3, [20, 10], {}),
          ("kaiming_uniform_", 4, [8, 3, 5, 5], {"a": math.sqrt(5)}),
          ("kaiming_normal_", 5, [16, 8, 3, 3], {"mode": "fan_out", "nonlinearity": "relu"}),
          ("kaiming_normal_", 6, [30, 17], {"a": 0.2, "mode": "fan_in", "nonlinearity": "leaky_relu"}),
          ("trunc_normal_", 7, [40], {"mean": 0.5, "std": 1.0, "a": -0.5, "b": 1.0}),
          ("sparse_", 8, [10, 6], {"sparsity": 0.3, "std": 0.5}),
          ("orthogonal_", 9, [5, 8], {"gain": 2.0}),
          ("orthogonal_", 10, [12, 3, 2, 1], {})]


def values(t):
    return [float(v) for v in t.flatten().tolist()]


def main():
    out = {"fans": [], "gains": [], "fills": [], "seeded": []}
    for shape in FAN_SHAPES:
        try:
            fan_in, fan_out = init._calculate_fan_in_and_fan_out(torch.empty(shape))
            out["fans"].append([shape, fan_in, fan_out])
        except ValueError:
            out["fans"].append([shape, "error"])
    for name, param in GAINS:
        try:
            out["gains"].append([name, param, float(init.calculate_gain(name, param))])
        except ValueError:
            out["gains"].append([name, param, "error"])
    for call, shape, kwargs in FILLS:
        t = torch.full(shape, 7.0)
        try:
            getattr(init, call)(t, **kwargs)
            out["fills"].append([call, shape, kwargs.get("groups", 1), values(t)])
        except ValueError:
            out["fills"].append([call, shape, kwargs.get("groups", 1), "error"])
    for call, seed, shape, kwargs in SEEDED:
        torch.manual_seed(seed)
        t = torch.empty(shape)
        getattr(init, call)(t, **kwargs)
        out["seeded"].append([call, seed, shape, values(t)])
    print(json.dumps(out))


if __name__ == "__main__":
    main()
