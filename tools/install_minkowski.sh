#!/usr/bin/env bash
# Install MinkowskiEngine 0.5.4 into the given Python (CPU-only build).
#
# MinkowskiEngine ships only an sdist. Two things need doing that pip cannot do alone:
#  * its Python sources still say `from collections import Sequence`, removed in Python 3.10:
#    we patch them to `collections.abc` before building;
#  * the build takes ~6 minutes on 2 cores, so the built wheel is cached OUTSIDE the clone
#    (default ~/.cache/labelfree/wheels, override with LABELFREE_WHEEL_CACHE): a second
#    `make setup`, or CI in a fresh clone, installs the cached wheel instead of rebuilding.
set -euo pipefail
PY=${1:?usage: install_minkowski.sh PYTHON}
VERSION=0.5.4
CACHE=${LABELFREE_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/labelfree/wheels}
# numpy.distutils (used by its setup.py to find BLAS) needs the stdlib distutils, not setuptools' copy
PIP=(env PIP_CONFIG_FILE=/dev/null PIP_FIND_LINKS= SETUPTOOLS_USE_DISTUTILS=stdlib "$PY" -m pip)

if "$PY" -c "import importlib.metadata as m, sys; sys.exit(m.version('MinkowskiEngine') != '$VERSION')" 2>/dev/null; then
  echo "MinkowskiEngine $VERSION already installed"; exit 0
fi
# the wheel's tag depends on the torch it was built against: cache per torch version
TORCH=$("$PY" -c "import torch; print(torch.__version__.replace('+', '_'))")
DEST="$CACHE/torch-$TORCH"
mkdir -p "$DEST"
# setuptools may lower-case the project name in the wheel file name
whl=$(ls "$DEST"/[Mm]inkowski[Ee]ngine-$VERSION-*.whl 2>/dev/null | head -n1 || true)
if [ -z "$whl" ]; then
  echo "Building MinkowskiEngine $VERSION (CPU only, OpenBLAS); takes ~6 min, cached in $DEST"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  "${PIP[@]}" download --no-deps --no-build-isolation --no-binary :all: -d "$work" "MinkowskiEngine==$VERSION"
  tar -xzf "$work"/MinkowskiEngine-$VERSION.tar.gz -C "$work"
  src="$work/MinkowskiEngine-$VERSION"
  "$PY" "$(dirname "$0")/patch_collections_abc.py" "$src"
  "${PIP[@]}" wheel --no-build-isolation --no-deps -w "$work/dist" "$src" \
      --config-settings="--global-option=--blas=openblas --cpu_only"
  # atomic: a half-copied wheel never lands in the cache
  built=$(ls "$work"/dist/*.whl)
  cp "$built" "$DEST/.tmp-$(basename "$built")" && mv "$DEST/.tmp-$(basename "$built")" "$DEST/$(basename "$built")"
  whl="$DEST/$(basename "$built")"
fi
"${PIP[@]}" install --no-deps "$whl"
