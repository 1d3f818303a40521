#!/usr/bin/env bash
# Builds FashionBench in Release and runs it: the demo's transfer-vs-scratch comparison on Debian's full Fashion-MNIST
# (apt-get install dataset-fashion-mnist) for 50, 200 and 1,000 labelled images per class.
# Usage: bench/run-fashion.sh [--labels 50,200,1000] [--epochs 6]. Results in bench/results/fashion.json.
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet run -c Release --project bench/FashionBench -- "$@"
