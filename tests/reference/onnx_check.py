"""Checks ONNX files with the onnx package's own checker, as Backbones' export tests need.

Usage: /usr/bin/python3 onnx_check.py FILE.onnx [FILE.onnx ...]

For each file runs onnx.checker.check_model(path, full_check=True) (the structural checks plus strict shape
inference; external data is looked up beside the file) and prints one JSON line:
  {"file", "ok", "error", "ir_version", "opsets": {domain: version}, "producer": [name, version],
   "inputs": [[name, [dims]]], "outputs": [[name, [dims]]], "metadata": {key: value}, "ops": {op_type: count}}
where a symbolic dimension is its name. Exits 1 if any file fails.
"""
import collections
import json
import sys

import onnx


def dims(value_info):
    return [d.dim_param if d.dim_param else d.dim_value for d in value_info.type.tensor_type.shape.dim]


def describe(path):
    result = {"file": path, "ok": True, "error": None}
    try:
        onnx.checker.check_model(path, full_check=True)
    except Exception as e:  # the checker's own error types vary between versions
        result.update(ok=False, error=f"{type(e).__name__}: {e}")
    model = onnx.load(path, load_external_data=False)
    result.update(
        ir_version=model.ir_version,
        opsets={o.domain: o.version for o in model.opset_import},
        producer=[model.producer_name, model.producer_version],
        inputs=[[i.name, dims(i)] for i in model.graph.input],
        outputs=[[o.name, dims(o)] for o in model.graph.output],
        metadata={p.key: p.value for p in model.metadata_props},
        ops=dict(collections.Counter(n.op_type for n in model.graph.node)),
    )
    return result


def main():
    failed = False
    for path in sys.argv[1:]:
        result = describe(path)
        failed |= not result["ok"]
        print(json.dumps(result), flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
