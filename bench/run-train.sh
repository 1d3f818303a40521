#!/usr/bin/env bash
# Builds TrainBench in Release and runs it: training images/s, ours vs Debian PyTorch 1.13 (plain, and with glibc keeping freed memory),
# ResNet-18 and ResNet-50 at batch 32, whole model trained and backbone frozen.
# Usage: bench/run-train.sh [--configs resnet18@64,resnet18@224,resnet50@224] [--modes full,frozen] [--batch 32] [--rounds 5] [--warmup 1] [--images 64]
# Results in bench/results/train.json.
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet run -c Release --project bench/TrainBench -- "$@"
