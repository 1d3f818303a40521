#!/usr/bin/env bash
# Builds LoadBench in Release and runs it: ours vs torch.load vs a plain read of a ResNet-50 .pth.
# Usage: bench/run-load.sh [--runs N] [--warmup N] [--memory reused|fresh|both]   (results in bench/results/load.json)
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet run -c Release --project bench/LoadBench -- "$@"
