#!/usr/bin/env bash
# Installs NVIDIA's NVRTC for CUDA 13.0 (the `nvidia-cuda-nvrtc` wheel from PyPI) into a
# private folder, so that the kernels' NVRTC compile test can run without a GPU or a
# CUDA toolkit. Idempotent and quiet; prints the folder to add to LD_LIBRARY_PATH:
#
#   export LD_LIBRARY_PATH="$(kernels/scripts/install-nvrtc.sh):$LD_LIBRARY_PATH"
#
# SHOTFARM_NVRTC_DIR chooses the folder (default: ~/.cache/shotfarm/nvrtc-13.0).
set -euo pipefail
export PIP_ROOT_USER_ACTION=ignore
version="${SHOTFARM_NVRTC_VERSION:-13.0.88}"
dir="${SHOTFARM_NVRTC_DIR:-${HOME}/.cache/shotfarm/nvrtc-13.0}"
find_lib() { find "$dir" -name 'libnvrtc.so.13*' -print -quit 2>/dev/null; }
lib="$(find_lib || true)"
if [ -z "$lib" ]; then
    python3 -m pip install --quiet --disable-pip-version-check --no-deps --target "$dir" \
        "nvidia-cuda-nvrtc==${version}" >&2
    lib="$(find_lib || true)"
fi
if [ -z "$lib" ]; then
    echo "install-nvrtc: libnvrtc.so.13 not found under $dir after installing nvidia-cuda-nvrtc==${version}" >&2
    exit 1
fi
dirname "$lib"
