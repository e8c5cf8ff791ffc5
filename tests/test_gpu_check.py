"""The GPU check's CPU-side dry run: the script a lent GPU machine runs works end to end here, on the CPU, at a tiny
scale, and writes the JSON the README and the bench render (tools/gpu_check.sh --dry-run)."""
import json
import os
import subprocess
import sys
from pathlib import Path
import pytest

pytestmark = pytest.mark.slow          # minutes: `make test-all` and CI run it, `make test` skips it (README, "Developing")

ROOT = Path(__file__).resolve().parent.parent


def test_gpu_check_dry_run(tmp_path):
    r = subprocess.run(['bash', 'tools/gpu_check.sh', '--dry-run'], cwd=ROOT, capture_output=True, text=True, timeout=600,
                       env=dict(os.environ, OUT=str(tmp_path), PY=sys.executable))
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    res = json.loads((tmp_path / 'gpu_check.json').read_text())
    assert res['dry_run'] and res['device'] == 'cpu' and res['ok'], res
    assert res['stack']['minkowski'] == '0.5.4'
    f = res['forward']
    assert f['voxels'] > 100 and f['max_abs_diff'] == 0.0, f                      # the CPU against itself: the same bits
    s = res['step']
    assert set(s['rel_diff']) >= {'ce_2d', 'ce_3d', 'latent_2d', 'latent_3d', 'total'}, s
    assert all(v == 0.0 for v in s['rel_diff'].values()), s                      # seeded, deterministic: identical losses
    d = res['ddp']
    assert d['backend'] == 'gloo' and d['world'] == 1 and len(d['losses']) == 2, d
    assert 'bench_step' not in res and 'demo' not in res                          # the GPU-scale parts run on a GPU only
