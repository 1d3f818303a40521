#!/usr/bin/env bash
# Builds ZooBench in Release and runs it: ours vs Debian PyTorch 1.13 eager vs ONNX Runtime, images/s at batch 1, 8, 32.
# Usage: bench/run-zoo.sh [--models resnet18,resnet50] [--batches 1,8,32] [--rounds 5] [--warmup 1] [--images 32]
#        bench/run-zoo.sh --experiments variants|environment|all      (ResNet-50 variants of ours; zoo-experiments.json)
# Results in bench/results/zoo.json. Variables set here (THP_MEM_ALLOC_ENABLE, GLIBC_TUNABLES, OMP_*) reach every engine of the main run.
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet run -c Release --project bench/ZooBench -- "$@"
