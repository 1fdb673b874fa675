#!/usr/bin/env bash
# The one prepared GPU check: run it through the device tool on a lent GPU machine,
#   run(command="bash benchmarks/gpu_check.sh", timeout_s=560)
# It uses the machine's own python3 (PyTorch with CUDA, scikit-learn, pytest are in its
# image; the real data sets are not there). Budget: under 8 minutes in all.
#   1. the CUDA tests (every test that skips without CUDA), then the GPU-marked ones;
#   2. GPU figures on synthetic data (case gpu.synthetic of the harness,
#      benchmarks/cases/gpu_synthetic.py), its record into $OUT/gpu.json.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-/tmp/gpu_out}"
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
python3 - <<'PY' 2>&1 | tee "$OUT/env.txt"
import torch, sklearn, numpy
print("torch", torch.__version__, "cuda", torch.cuda.is_available(),
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "-")
print("scikit-learn", sklearn.__version__, "numpy", numpy.__version__)
PY
# The tests that need CUDA are named *cuda* or *gpu*; the rest of the suite runs in CI.
timeout 240 python3 -m pytest -q -p no:cacheprovider -o addopts="--import-mode=importlib" \
    -k "cuda or gpu" tests 2>&1 | tail -40 | tee "$OUT/cuda_tests.txt"
timeout 300 python3 -m benchmarks run gpu.synthetic --out "$OUT/gpu.json" \
    --work-root "$OUT/work" 2>&1 | tail -30
