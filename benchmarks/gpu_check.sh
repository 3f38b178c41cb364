#!/usr/bin/env bash
# The GPU check of the training path, for the GPU test machine as it is (one H200, Python 3.12,
# JAX with CUDA, no TensorFlow, no package index), in under 8 minutes. From the repository root:
#   make gpu-check-bundle            # here: fills .gpu_check/ (wheels and the CIFAR-10 archive)
#   bash benchmarks/gpu_check.sh     # there, with .gpu_check carried beside the working tree
#   PYTHON=.venv/bin/python bash benchmarks/gpu_check.sh --cpu   # here: every step on the CPU, tiny sizes
# .gpu_check/ holds the cp312 wheels of what the machine lacks (keras, namex, optree, and
# Snakemake with its dependencies; about 31 MB) and ../shared/datasets' CIFAR-10 JPEG archive
# (19 MB) with its builder. What it measures goes to $OUT (results/gpu_check by default).
set -euo pipefail
cd "$(dirname "$0")/.."
# Here: PYTHON=.venv/bin/python bash benchmarks/gpu_check.sh --cpu
OUT=${OUT:-results/gpu_check}
PYTHON=${PYTHON:-python3}
mkdir -p "$OUT"
if ! "$PYTHON" -c "import keras, yaml, jsonschema, snakemake" 2>/dev/null && compgen -G ".gpu_check/wheels/*.whl" >/dev/null; then
    "$PYTHON" -m pip install -q --no-index --no-deps --target /tmp/gpu_check_site .gpu_check/wheels/*.whl
    export PYTHONPATH=/tmp/gpu_check_site
fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
"$PYTHON" benchmarks/gpu_check.py --out "$OUT" "$@" 2>&1 | grep --line-buffered -v "^[IWE]0000 \|^WARNING: All log messages" | tee "$OUT/gpu_check.log"
