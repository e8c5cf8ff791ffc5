"""`kill -9` during `labelfree labels`, `train` and `distill`, then the same command again: what was complete is intact and
byte-identical, the run resumes, and the end result equals an uninterrupted run's.

Each command runs as a user runs it (a subprocess of the `labelfree` entry point, one thread so that training is
bit-exact) and is killed at several points drawn from a seeded generator over its uninterrupted run time."""
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow          # minutes: `make test-all` and CI run it, `make test` skips it (README, "Developing")

BIN = Path(sys.executable).parent
ENV = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')


def cmd(*args): return [str(BIN / 'labelfree'), *map(str, args)]


def run(*args):
    r = subprocess.run(cmd(*args), capture_output=True, text=True, env=ENV, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    return r


def killed_when(args, ready, delay: float) -> bool:
    "Start the command; once `ready()` holds, wait `delay` seconds more and SIGKILL it. Whether it was still running to be killed."
    p = subprocess.Popen(cmd(*args), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    t = time.perf_counter()
    while not ready() and p.poll() is None and time.perf_counter() - t < 600: time.sleep(0.02)
    try: p.wait(timeout=delay); return False
    except subprocess.TimeoutExpired:
        p.send_signal(signal.SIGKILL); p.wait(); return True


def snapshot(folder: Path, pattern: str = '*') -> dict:
    return {p.name: p.read_bytes() for p in sorted(folder.glob(pattern)) if p.is_file()}


N_SCENES = 4


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    "Four small scenes in the custom format, and their pseudo-labels made once, uninterrupted."
    from labelfree.data.custom import write_custom
    from labelfree.data.procedural import make_scene
    d = tmp_path_factory.mktemp('kill')
    for i in range(N_SCENES): write_custom(make_scene(31, i, n_views=4, width=80, height=60, points_per_m2=150), d / 'scenes' / f's{i}')
    run('labels', '--dataset', 'custom', '--root', d / 'scenes', '--out', d / 'labels', '--simulated', '--sam-features', '--feature-dim', 16)
    t = sorted(p.stat().st_mtime for p in (d / 'labels').glob('*.npz'))
    return d, (t[-1] - t[0]) / (len(t) - 1)                # seconds per scene, start-up aside


def test_kill_labels(data, tmp_path):
    d, per_scene = data
    ref = snapshot(d / 'labels', '*.npz')
    args = ['labels', '--dataset', 'custom', '--root', d / 'scenes', '--out', tmp_path / 'labels', '--simulated', '--sam-features', '--feature-dim', 16]
    rng, cut = random.Random(0), False
    for done in (0, 1, 2):                                # killed in the first scene, after one, after two (plus a random bit)
        killed = killed_when(args, lambda: len(list((tmp_path / 'labels').glob('*.npz'))) >= done, rng.uniform(0, per_scene))
        before = snapshot(tmp_path / 'labels', '*.npz') if (tmp_path / 'labels').exists() else {}
        run(*args)
        after = snapshot(tmp_path / 'labels', '*.npz')
        assert all(after[f] == v for f, v in before.items())           # what was complete is untouched
        assert not list((tmp_path / 'labels').glob('*.tmp*'))          # no half-written file left behind
        from labelfree.labels import load_pseudo_labels
        assert set(after) == set(ref)
        for f in ref:                                                  # the same labels as the uninterrupted run
            a, b = load_pseudo_labels(tmp_path / 'labels' / f), load_pseudo_labels(d / 'labels' / f)
            np.testing.assert_array_equal(a.labels3d, b.labels3d)
            for x, y in zip(a.refined2d, b.refined2d): np.testing.assert_array_equal(x, y)
        if killed and 0 < len(before) < len(ref): cut = True
        for p in (tmp_path / 'labels').iterdir(): p.unlink()
    assert cut, 'no kill landed between two scenes'


TRAIN_YAML = '''
backbone_2d: efficientnet_lite0
pretrained_2d: false
image_size: [60, 80]
voxel_size: 0.2
width_3d: 0.25
proj_dim: 16
epochs_stage1: 2
epochs_stage2: 1
warmup_epochs: 1
views_per_step: 2
optimizer: adamw
lr_2d: 0.001
lr_3d: 0.001
device: cpu
data: {{dataset: custom, root: {root}, labels: {labels}}}
'''

DISTILL_YAML = '''
teacher: simulated-clip:16
voxel_size: 0.15
width_3d: 0.25
scenes_per_step: 1
epochs: 3
lr: 0.003
warmup_steps: 2
max_pairs: 2000
cache_teacher: true
eval_every: 3
device: cpu
data: {{dataset: custom, root: {root}}}
'''


def _weights(ck: Path, key: str) -> dict:
    import torch
    return torch.load(ck, map_location='cpu', weights_only=True)[key]


def _log(folder: Path) -> list[dict]:
    return [{k: v for k, v in json.loads(l).items() if k not in ('seconds', 'points_per_s')}
            for l in (folder / 'log.jsonl').read_text().splitlines()]


@pytest.mark.parametrize('command,yaml_text,nets', [('train', TRAIN_YAML, ('net2', 'net3')), ('distill', DISTILL_YAML, ('net',))])
def test_kill_training(data, tmp_path, command, yaml_text, nets):
    import torch
    d, _ = data
    (tmp_path / 'c.yaml').write_text(yaml_text.format(root=d / 'scenes', labels=d / 'labels'))
    run(command, '--config', tmp_path / 'c.yaml', '--out', tmp_path / 'ref')
    ref_w = {k: _weights(tmp_path / 'ref' / 'checkpoint.pt', k) for k in nets}
    epoch_s = min(r['seconds'] for r in map(json.loads, (tmp_path / 'ref' / 'log.jsonl').read_text().splitlines()))
    rng, cuts = random.Random(1 if command == 'train' else 2), []
    logged = lambda out: len((out / 'log.jsonl').read_text().splitlines()) if (out / 'log.jsonl').exists() else 0
    for j, epochs in enumerate((0, 1, 2)):                # killed in the first epoch, and after one and two epochs (plus a random bit)
        out = tmp_path / f'run{j}'
        killed = killed_when([command, '--config', tmp_path / 'c.yaml', '--out', out], lambda: logged(out) >= epochs, rng.uniform(0, epoch_s))
        cuts.append(killed and (out / 'checkpoint.pt').exists())          # killed part-way, with a checkpoint to resume from
        kept = snapshot(out, 'stage1.pt') if out.exists() else {}
        run(command, '--config', tmp_path / 'c.yaml', '--out', out, '--resume')
        assert all(snapshot(out, 'stage1.pt')[k] == v for k, v in kept.items())     # a finished stage-1 checkpoint stays as it was
        for k in nets:                                                               # the same weights as the uninterrupted run
            w = _weights(out / 'checkpoint.pt', k)
            assert w.keys() == ref_w[k].keys()
            for n in w: assert torch.equal(w[n], ref_w[k][n]), (j, k, n)
        assert _log(out) == _log(tmp_path / 'ref'), j                                 # and the same log, epoch by epoch
    assert any(cuts), 'no kill landed after a checkpoint'


def test_killed_write_leftover_removed(tmp_path):
    "A write killed mid-way leaves its temporary folder (SIGKILL runs no clean-up); the scene's next write removes it."
    from labelfree.labels import load_pseudo_labels, save_pseudo_labels
    from labelfree.test_utils import tiny_labelled
    (s, pl, _), = tiny_labelled(1, n_views=2)
    stale = tmp_path / '.s.npz.abc123.tmp'; stale.mkdir(); (stale / 's.npz').write_bytes(b'half')
    save_pseudo_labels(pl, tmp_path / 's.npz')
    assert not list(tmp_path.glob('*.tmp*')) and (load_pseudo_labels(tmp_path / 's.npz').labels3d == pl.labels3d).all()
