#!/usr/bin/env bash
# The speed benches on a lent GPU machine, in one call (see /work/.library/device/README.md):
#
#   bash bench/device.sh        # with `.whl` carried: the wheels the machine's image lacks
#
# The machine's python3 has torch (CUDA), transformers, accelerate, safetensors, numpy, pillow and the
# rest, but not diffusers, grpclib, platformdirs, rapidfuzz, c2pa-python, cryptography or the gRPC
# health and reflection services, and perhaps a grpcio or protobuf older than our generated code needs:
# those travel as wheels in .whl/ and are installed under /tmp/site, ahead of the image's own packages.
# Nothing is downloaded: every model is built locally with random weights, offline.
#
# Each bench runs under its own time limit inside one overall budget (BUDGET seconds, default 570),
# so the whole script ends before a 600 s call does; each writes $OUT/<name>.log as it goes, so a
# bench stopped at its limit still returns what it printed. The GPU figures come first; speed.py's
# per-layout timings, which run on the machine's CPU, come last, in whatever time is left.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
START=$SECONDS
BUDGET=${BUDGET:-570}
OUT=${OUT:-/tmp/cocreate-device-out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 DIFFUSERS_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1 DO_NOT_TRACK=1
export HF_HOME=/tmp/cc-hf TOKENIZERS_PARALLELISM=false

summary() { echo "$*" | tee -a "$OUT/summary.log"; }

# 1. The carried wheels, ahead of the image's packages.
if ! ls .whl/*.whl >/dev/null 2>&1; then
  summary "no .whl/*.whl here: name .whl in the call's carry"
  exit 1
fi
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
  2>&1 | tee "$OUT/preflight.log"
if [ "${PIPESTATUS[0]}" -ne 0 ]; then
  summary "wheel install failed (see preflight.log)"
  exit 1
fi
export PYTHONPATH=/tmp/site:$PWD:$PWD/plugins/common

# 2. What this machine is, and whether the daemon's imports resolve to the carried versions.
{
  nvidia-smi -L
  nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used,clocks.sm --format=csv
  nproc
  grep -m1 'model name' /proc/cpuinfo
  grep -m1 -o -w -E 'amx_bf16|avx512_bf16' /proc/cpuinfo | sort -u | tr '\n' ' '
  echo "(CPU bfloat16 flags above; none printed = emulated bfloat16 on the CPU)"
  python3 - <<'EOF'
import importlib.metadata as md
import sys

import torch

print("python", sys.version.split()[0])
print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())
if torch.cuda.is_available():
    print("device", torch.cuda.get_device_name(0), "capability", torch.cuda.get_device_capability(0))
for name in (
    "diffusers", "transformers", "huggingface_hub", "accelerate", "peft", "safetensors", "tokenizers",
    "grpcio", "protobuf", "grpclib", "h2", "c2pa-python", "cryptography", "cffi", "filelock", "rich",
):
    try:
        print(f"  {name:16} {md.version(name)}")
    except md.PackageNotFoundError:
        print(f"  {name:16} MISSING")
import google.protobuf
import grpc

print("protobuf in use", google.protobuf.__version__, google.protobuf.__file__)
print("grpcio in use", grpc.__version__, grpc.__file__)
import core_server.service.server  # noqa: F401  everything the daemon imports at start
import core_server.engines.image  # noqa: F401  and once it paints or writes
import core_server.engines.text  # noqa: F401
import cocreate_client.client  # noqa: F401
print("daemon and client imports: ok")
EOF
  echo "preflight python rc=$?"
} 2>&1 | tee -a "$OUT/preflight.log"

# 3. The benches. run_bench NAME LIMIT RESERVE CMD...: at most LIMIT seconds, and never into the
# RESERVE seconds of the budget kept for the benches after it.
run_bench() {
  local name=$1 limit=$2 reserve=$3
  shift 3
  local left=$((BUDGET - (SECONDS - START) - reserve))
  ((left < limit)) && limit=$left
  if ((limit < 30)); then
    summary "$name: skipped, ${limit}s left in the budget"
    return 1
  fi
  echo "=== $name (limit ${limit}s): $*"
  local began=$SECONDS
  # timeout signals its whole process group, so daemons a bench started get SIGTERM too
  timeout -k 15 "$limit" "$@" 2>&1 | tee "$OUT/$name.log"
  local rc=${PIPESTATUS[0]}
  local gpu
  gpu=$(nvidia-smi --query-gpu=memory.used --format=csv,noheader 2>/dev/null)
  summary "$name: rc=$rc$( ((rc == 124 || rc == 137)) && echo ' (stopped at its limit)') in $((SECONDS - began))s; GPU memory in use after it: ${gpu:-?}"
  return "$rc"
}

# a. The daemon end to end at SD1.5's own 512², float32 forced vs automatic (float16 on CUDA), and the
#    session caches; first one bfloat16 UNet step and VAE decode against float32, on this machine's CPU.
run_bench speed 270 180 python3 bench/speed.py --rounds 3 --side 512 --home /tmp/cc-speed
# The model is whole once speed.py has loaded its UNet and VAE from it (a stop mid-build can leave half).
built=0
grep -q "^VAE decode" "$OUT/speed.log" && built=1
# b. In process vs through the daemon and the plugin client, reusing that 512² model (the same folder,
#    registered under overhead's name), else building its own.
overhead_home=/tmp/cc-overhead
((built)) && overhead_home=/tmp/cc-speed/build
run_bench overhead 150 90 python3 bench/overhead.py --real-arch --size 512 --steps 20 --candidates 4 --repeat 3 \
  --home "$overhead_home"
# c. The text engine's prefix cache and batching at a 0.5B-class model's depth and width (24 x 1024, as
#    Qwen2.5-0.5B; a small vocabulary, so about 0.3B parameters), float16 on CUDA. Random weights in
#    float16 could overflow; if it fails before its limit, once more in bfloat16.
run_bench text 120 0 python3 bench/text.py --layers 24 --width 1024 --context 2000 --new-tokens 64 --repeat 3
text_rc=$?
if ((text_rc != 0 && text_rc != 124 && text_rc != 137)); then
  run_bench text-bf16 90 0 \
    env COCREATE_DTYPE=bfloat16 python3 bench/text.py --layers 24 --width 1024 --context 2000 --new-tokens 64 --repeat 3
fi
# d. The flow-matching transformer families at full depth with random weights, one step at 1024², default
#    precision against fp8 storage (bench/families.py); an H200 holds even Qwen-Image's 41 GB.
run_bench families 200 0 python3 bench/families.py --full --repeat 2
# e. In the time left, if 90 s or more: speed.py's CPU timings per dtype and memory layout (a UNet step in float32,
#    bfloat16 and bfloat16 channels-last; a VAE decode in float32 and bfloat16), on the model built in a.
if ((built && BUDGET - (SECONDS - START) >= 90)); then
  run_bench speed-layouts 200 0 python3 bench/speed.py --checks-only --layouts --side 512 --home /tmp/cc-speed
fi

summary "total $((SECONDS - START))s"
