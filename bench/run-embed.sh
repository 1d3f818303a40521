#!/usr/bin/env bash
# Builds EmbedBench in Release and runs it: `embed` over a folder of JPEGs with ResNet-50, ours vs the PyTorch script.
# Usage: bench/run-embed.sh [--images 1000] [--rounds 3] [--batch 32] [--workers 2]   (results in bench/results/embed.json)
# On its first run it writes the JPEGs (bench/peers/make_jpegs.py) and random ResNet-50 weights into bench/results/data.
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet run -c Release --project bench/EmbedBench -- "$@"
