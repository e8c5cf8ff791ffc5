#!/usr/bin/env bash
# Install MinkowskiEngine 0.5.4 into the given Python: CPU-only, or with CUDA.
#
#   bash tools/install_minkowski.sh PYTHON
#
# Which build: LABELFREE_CUDA=1 builds with CUDA (also on a machine without a GPU), LABELFREE_CUDA=0 CPU-only;
# unset, CUDA when `nvidia-smi -L` lists a GPU, else whichever build is installed (CPU-only when none is).
#
# MinkowskiEngine ships only an sdist. What pip cannot do alone:
#  * its Python sources still say `from collections import Sequence`, removed in Python 3.10: patched
#    (tools/patch_collections_abc.py);
#  * CUDA: its CUDA sources predate CUDA 13 and CCCL 3: patched (tools/patch_minkowski_cuda.py). The toolkit is
#    PyPI's, at torch's CUDA version (nvidia-cuda-nvcc, -nvvm, -crt, -cccl, unpacked beside the runtime and cuBLAS/
#    cuSPARSE wheels torch already brought), laid out as one CUDA_HOME in the venv (tools/cuda_home.py). GPU
#    architectures: TORCH_CUDA_ARCH_LIST if set, else the machine's GPUs', else 9.0 (Hopper: H100/H200);
#    A toolkit already on the machine is used instead when CUDA_HOME names one (CUDA_HOME/bin/nvcc);
#  * offline (a GPU machine with no network): LABELFREE_ME_SDIST=FILE builds from that sdist instead of downloading it,
#    LABELFREE_ME_BLAS=openblas|blas (default openblas) and LABELFREE_ME_BLAS_INCLUDE=DIR pick the CPU BLAS;
#  * the build takes ~6 minutes on 2 cores CPU-only and about 14 with CUDA for one architecture, so the built wheel
#    is cached OUTSIDE the clone (default ~/.cache/labelfree/wheels, override with LABELFREE_WHEEL_CACHE), one
#    folder per torch version and flavour: a second `make setup`, or CI in a fresh clone, installs the cached wheel.
set -euo pipefail
PY=${1:?usage: install_minkowski.sh PYTHON}
HERE=$(cd "$(dirname "$0")" && pwd)
VERSION=0.5.4
CACHE=${LABELFREE_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/labelfree/wheels}
# numpy.distutils (used by its setup.py to find BLAS) needs the stdlib distutils, not setuptools' copy
PIP=(env PIP_CONFIG_FILE=/dev/null PIP_FIND_LINKS= SETUPTOOLS_USE_DISTUTILS=stdlib "$PY" -m pip)

case "${LABELFREE_CUDA:-}" in
  1) CUDA=1 ;;
  0) CUDA=0 ;;
  "") if nvidia-smi -L 2>/dev/null | grep -q '^GPU'; then CUDA=1; else CUDA=any; fi ;;
  *) echo "LABELFREE_CUDA=$LABELFREE_CUDA: use 1 (build with CUDA) or 0 (CPU-only)" >&2; exit 2 ;;
esac

# already there, with the wanted flavour?
if "$PY" - "$VERSION" "$CUDA" 2>/dev/null <<'EOF'
import importlib.metadata as m, sys
if m.version('MinkowskiEngine') != sys.argv[1]: sys.exit(1)
import torch, warnings
warnings.filterwarnings('ignore')
import MinkowskiEngine as ME
sys.exit(sys.argv[2] != 'any' and int(ME.is_cuda_available()) != int(sys.argv[2]))
EOF
then echo "MinkowskiEngine $VERSION already installed"; exit 0; fi
[ "$CUDA" != any ] || CUDA=0

TORCH=$("$PY" -c "import torch; print(torch.__version__.replace('+', '_'))")
BLAS="--blas=${LABELFREE_ME_BLAS:-openblas}${LABELFREE_ME_BLAS_INCLUDE:+ --blas_include_dirs=$LABELFREE_ME_BLAS_INCLUDE}"
FLAGS="$BLAS --cpu_only"
DEST="$CACHE/torch-$TORCH"                        # the CPU-only wheels' folder, as before
ENV=()
if [ "$CUDA" = 1 ]; then
  TORCH_CUDA=$("$PY" -c "import torch; print(torch.version.cuda or '')")
  [ -n "$TORCH_CUDA" ] || { echo "torch $TORCH is a CPU-only build: MinkowskiEngine cannot be built with CUDA against it" >&2; exit 2; }
  if [ -z "${TORCH_CUDA_ARCH_LIST:-}" ]; then
    TORCH_CUDA_ARCH_LIST=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | sort -u | paste -sd';' || true)
    TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-9.0}
  fi
  # the toolkit's compiler at torch's CUDA version (the pins were the ones built and tested for 13.0)
  case "$TORCH_CUDA" in
    13.0) TOOLKIT=(nvidia-cuda-nvcc==13.0.88 nvidia-nvvm==13.0.88 nvidia-cuda-crt==13.0.88 nvidia-cuda-cccl==13.0.85) ;;
    *) v="$TORCH_CUDA.*"; TOOLKIT=("nvidia-cuda-nvcc==$v" "nvidia-nvvm==$v" "nvidia-cuda-crt==$v" "nvidia-cuda-cccl==$v") ;;
  esac
  if [ -x "${CUDA_HOME:-/nonexistent}/bin/nvcc" ]; then
    echo "CUDA toolkit: $CUDA_HOME ($("$CUDA_HOME/bin/nvcc" --version | tail -n1))"
  else
    echo "CUDA toolkit $TORCH_CUDA from PyPI: ${TOOLKIT[*]}"
    "${PIP[@]}" install -q "${TOOLKIT[@]}"
    CUDA_HOME=$("$PY" "$HERE/cuda_home.py" "$(dirname "$(dirname "$PY")")/cuda-$TORCH_CUDA")
  fi
  FLAGS="$BLAS --force_cuda --cuda_home=$CUDA_HOME"
  DEST="$CACHE/torch-$TORCH-cuda-sm$(echo "$TORCH_CUDA_ARCH_LIST" | tr -c '0-9A-Za-z\n' '_')"
  ENV=(CUDA_HOME="$CUDA_HOME" TORCH_CUDA_ARCH_LIST="$TORCH_CUDA_ARCH_LIST" MAX_JOBS="${MAX_JOBS:-$(nproc)}")
fi
[ "${LABELFREE_ME_BLAS:-openblas}" = openblas ] || DEST="$DEST-$LABELFREE_ME_BLAS"
mkdir -p "$DEST"
# setuptools may lower-case the project name in the wheel file name
whl=$(ls "$DEST"/[Mm]inkowski[Ee]ngine-$VERSION-*.whl 2>/dev/null | head -n1 || true)
if [ -z "$whl" ]; then
  echo "Building MinkowskiEngine $VERSION ($FLAGS${ENV:+, ${ENV[*]}}); cached in $DEST"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  sdist=${LABELFREE_ME_SDIST:-}
  if [ -z "$sdist" ]; then
    "${PIP[@]}" download --no-deps --no-build-isolation --no-binary :all: -d "$work" "MinkowskiEngine==$VERSION"
    sdist="$work/MinkowskiEngine-$VERSION.tar.gz"
  fi
  tar -xzf "$sdist" -C "$work"
  src="$work/MinkowskiEngine-$VERSION"
  "$PY" "$HERE/patch_collections_abc.py" "$src"
  [ "$CUDA" = 0 ] || "$PY" "$HERE/patch_minkowski_cuda.py" "$src"
  start=$SECONDS
  env "${ENV[@]}" "${PIP[@]}" wheel --no-build-isolation --no-deps -w "$work/dist" "$src" \
      --config-settings="--global-option=$FLAGS"
  echo "MinkowskiEngine built in $((SECONDS - start)) s"
  # atomic: a half-copied wheel never lands in the cache
  built=$(ls "$work"/dist/*.whl)
  cp "$built" "$DEST/.tmp-$(basename "$built")" && mv "$DEST/.tmp-$(basename "$built")" "$DEST/$(basename "$built")"
  whl="$DEST/$(basename "$built")"
fi
"${PIP[@]}" install --no-deps --force-reinstall "$whl"
"$PY" -c "import warnings; warnings.filterwarnings('ignore'); import torch, MinkowskiEngine as ME; print('MinkowskiEngine', ME.__version__, '| CUDA support:', ME.is_cuda_available())"
