#!/usr/bin/env bash
# Installs torch into the virtualenv whose pip is $1, choosing the build for this machine:
# with an NVIDIA GPU the default (CUDA) wheel, without one the CPU wheel, which is a tenth
# of the size. An existing torch is kept. COCREATE_TORCH_SPEC overrides the version spec.
set -euo pipefail
pip=$1
spec=${COCREATE_TORCH_SPEC:-torch==2.13.0}
if "$pip" show torch >/dev/null 2>&1; then
  echo "torch already installed: $("$pip" show torch | sed -n 's/^Version: //p')"
  exit 0
fi
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  echo "NVIDIA GPU found: installing the CUDA build of $spec"
  "$pip" install "$spec"
else
  echo "no NVIDIA GPU: installing the CPU build of $spec"
  "$pip" install "$spec" --extra-index-url "${COCREATE_TORCH_CPU_INDEX:-https://download.pytorch.org/whl/cpu}"
fi
