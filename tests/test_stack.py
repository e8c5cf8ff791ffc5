"""The pinned stack imports and works together in one process, on CPU."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent


def test_versions():
    import torchvision, open3d
    from labelfree.geometry import import_minkowski
    ME = import_minkowski()
    assert torch.__version__.startswith('2.13.0') and torchvision.__version__.startswith('0.28.0')
    assert ME.__version__ == '0.5.4'
    assert np.__version__ == '1.26.4'
    assert open3d.__version__.startswith('0.20')


def test_torchvision_ops_on_cpu():
    # the symptom of a mismatched torch/torchvision pair is "operator torchvision::nms does not exist"
    from torchvision.ops import nms
    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], dtype=torch.float32)
    assert nms(boxes, torch.tensor([0.9, 0.8, 0.7]), 0.5).tolist() == [0, 2]


def test_minkowski_sparse_conv_cpu():
    import MinkowskiEngine as ME
    coords = torch.tensor([[0, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 5, 5, 5]], dtype=torch.int32)
    x = ME.SparseTensor(torch.ones(4, 2), coordinates=coords)
    conv = ME.MinkowskiConvolution(2, 3, kernel_size=3, dimension=3)
    torch.nn.init.constant_(conv.kernel, 1.0)
    y = conv(x)
    # the point at the origin sees itself and its two neighbours: 3 points x 2 channels x weight 1
    feats = {tuple(c[1:].tolist()): f for c, f in zip(y.C, y.F)}
    assert feats[(0, 0, 0)].tolist() == [6.0, 6.0, 6.0]
    assert feats[(5, 5, 5)].tolist() == [2.0, 2.0, 2.0]


def test_foundation_model_libraries_import():
    import open_clip, segment_anything, timm  # noqa: F401
    assert 'ViT-B-16' in open_clip.list_models()
    assert {'vit_b', 'vit_l', 'vit_h'} <= set(segment_anything.sam_model_registry)
    assert timm.list_models('vit_small_patch14_dinov2*')


def test_open3d_raycasting():
    import open3d as o3d
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(o3d.t.geometry.TriangleMesh.from_legacy(o3d.geometry.TriangleMesh.create_box()))
    rays = o3d.core.Tensor([[0.5, 0.5, 5, 0, 0, -1]], dtype=o3d.core.Dtype.Float32)
    assert abs(scene.cast_rays(rays)['t_hit'].numpy()[0] - 4.0) < 1e-5


def test_importing_labelfree_has_no_side_effects():
    # no printing and no heavy imports at import time
    code = 'import sys, labelfree.scene, labelfree.geometry, labelfree.data.samples, labelfree.cli; print(sorted(m for m in ("MinkowskiEngine", "open3d", "open_clip") if m in sys.modules))'
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == '[]' and r.stderr == ''


def test_setup_is_idempotent_and_minkowski_cached():
    # after `make setup`, make has nothing left to do, and the MinkowskiEngine installer neither rebuilds nor reinstalls
    assert subprocess.run(['make', '-q', 'setup'], cwd=ROOT).returncode == 0
    r = subprocess.run(['bash', 'tools/install_minkowski.sh', sys.executable], cwd=ROOT, capture_output=True, text=True, check=True)
    assert 'already installed' in r.stdout
