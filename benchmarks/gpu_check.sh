#!/usr/bin/env bash
# The prepared GPU check of the training path, for one NVIDIA GPU, in
# under 8 minutes. From the repository root:
#   bash benchmarks/gpu_check.sh
# Python packages: the machine's own, or wheels in .whl/ (tensorflow[and-cuda]
# 2.21.0 and its NVIDIA libraries, keras, numpy, pandas), installed to /tmp/site.
# Prints images/s per model and setting, the seconds of one full 12-conv CIFAR-10
# epoch (196 steps of 256), and the device name.
set -euo pipefail
cd "$(dirname "$0")/.."
if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
nvidia-smi -L || true
python3 -c "import tensorflow as tf; print('GPUs:', tf.config.list_physical_devices('GPU'))"

models="fmnist_2conv cifar_2conv cifar_6conv cifar_12conv"
for training in '{}' '{"precision": "mixed_bfloat16"}' '{"precision": "mixed_float16"}' \
             '{"steps_per_execution": 8}' '{"precision": "mixed_bfloat16", "steps_per_execution": 8}'; do
    echo "== $training"
    timeout 120 python3 -m study.bench --pipeline-only --models $models --steps 40 --warmup 5 --training "$training" \
        || echo "   (failed or timed out)"
done
echo "== one full 12-conv CIFAR-10 epoch (196 steps), default settings"
timeout 120 python3 -m study.bench --pipeline-only --models cifar_12conv --steps 196 --warmup 5
