#!/usr/bin/env bash
# Installs torch into the virtualenv whose pip is $1, choosing the build for this machine:
# with an NVIDIA GPU the default (CUDA) wheel, without one the CPU wheel, which is a tenth
# of the size. An existing torch is kept. COCREATE_TORCH_SPEC overrides the version spec.
set -euo pipefail
pip=$1
spec=${COCREATE_TORCH_SPEC:-torch==2.13.0}
cpu_index=${COCREATE_TORCH_CPU_INDEX:-https://download.pytorch.org/whl/cpu}
if "$pip" show torch >/dev/null 2>&1; then
  echo "torch already installed: $("$pip" show torch | sed -n 's/^Version: //p')"
  exit 0
fi
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  echo "NVIDIA GPU found: installing the CUDA build of $spec"
  "$pip" install "$spec"
elif "$(dirname "$pip")/python" -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5)" \
    "$cpu_index/" >/dev/null 2>&1; then
  echo "no NVIDIA GPU: installing the CPU build of $spec from $cpu_index"
  "$pip" install "$spec" --extra-index-url "$cpu_index"
else
  # Offline or behind a mirror: pip's own configuration (a local wheel, a constraint file) decides.
  echo "no NVIDIA GPU and $cpu_index unreachable: installing $spec from pip's configured sources"
  "$pip" install "$spec"
fi
