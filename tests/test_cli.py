"The installed `labelfree` command works end to end."
import json
import os
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def test_samples_lists_every_sample():
    out = subprocess.run([str(BIN / 'labelfree'), 'samples'], capture_output=True, text=True, check=True).stdout
    for name in ('nuscenes-mini', 'semantickitti', 'kitti', 'icl-nuim', 'tum'):
        assert name in out


import pytest


@pytest.fixture(scope='module')
def demo_run(tmp_path_factory):
    "`labelfree demo --quick` in a fresh cache: its output folder and its completed process."
    tmp_path = tmp_path_factory.mktemp('demo')
    env = dict(os.environ, LABELFREE_CACHE=str(tmp_path / 'cache'))
    r = subprocess.run([str(BIN / 'labelfree'), 'demo', '--quick', '--out', str(tmp_path / 'out')], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    return tmp_path / 'out', r


def test_demo_quick_writes_report(demo_run):
    out, r = demo_run
    rep = json.loads((out / 'report.json').read_text())
    if rep['simulated_vfm']:                                # no CLIP/SAM weights: the demo must say it simulates them...
        assert 'SIMULATED foundation models' in r.stdout and rep['models']['labeler'].startswith('simulated-clip')
        # ...and its latent target is the real ImageNet teacher, never features built from the ground truth
        assert rep['models']['features'] == 'imagenet-efficientnet_lite0(stage=4, short_side=448)'
    assert rep['config']['backbone_2d'] == 'efficientnet_lite0' and rep['config']['pretrained_2d'] is True
    for g in ('stage2_over_raw', 'stage2_over_refined'):
        for d in ('2d', '3d'):
            assert abs(rep['gains'][g][d] - (rep['miou']['cns_stage2'][d] - rep['miou'][f"pseudo_{g.split('_')[-1]}"][d])) < 0.02
    for k, by_dim in rep['miou'].items():                    # each mIoU is the mean of its per-class IoUs (classes present)
        assert set(by_dim) == {'2d', '3d'}
        for d, m in by_dim.items():
            ious = [v for v in rep['per_class'][k][d].values() if v is not None]
            assert ious and abs(sum(ious) / len(ious) - m) < 0.02, (k, d, m)
    t = rep['timings_s']                                     # the stages' wall times add up to no more than the total
    assert all(t[k] > 0 for k in ('scenes', 'pseudo_labels', 'training', 'evaluation'))
    assert t['scenes'] + t['pseudo_labels'] + t['training'] + t['evaluation'] <= t['total'] + 0.1
    assert 100 < rep['peak_rss_mb'] < 4096 and rep['quick'] is True and rep['seed'] == rep['config']['seed']
    assert (out / 'pseudo_labels.png').stat().st_size > 10_000


def lf(*args):
    r = subprocess.run([str(BIN / 'labelfree'), *map(str, args)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout


def test_predict_after_demo(demo_run, tmp_path):
    "What a user does next: label the bundled real samples and a folder of their own with the demo's networks, open the PLY in Open3D, export the weights."
    import numpy as np
    import open3d as o3d
    from labelfree.data.custom import write_custom
    from labelfree.data.io import read_ply
    from labelfree.data.procedural import make_scene
    ck = next(demo_run[0].glob('train-*/checkpoint.pt'))
    lf('predict', '--checkpoint', ck, '--dataset', 'samples', '--scene', 'icl-nuim', '--out', tmp_path / 'samples')
    ply = next((tmp_path / 'samples').glob('*.ply'))
    pc = o3d.io.read_point_cloud(str(ply))
    v = read_ply(ply)
    assert len(pc.points) == len(v['label']) > 1000 and v['label'].max() < 20 and 0 < v['confidence'].min() <= v['confidence'].max() <= 1
    assert len(list((tmp_path / 'samples' / '2d').rglob('*_color.png'))) == 5             # the sample's five frames
    write_custom(make_scene(41, 0, n_views=2, width=80, height=60, points_per_m2=100), tmp_path / 'mine' / 'room')
    lf('predict', '--checkpoint', ck, '--dataset', 'custom', '--root', tmp_path / 'mine', '--out', tmp_path / 'mine_pred')
    a = read_ply(next((tmp_path / 'mine_pred').glob('*.ply')))['label']
    out = lf('export', '--checkpoint', ck, '--out', tmp_path / 'cns.safetensors')
    assert 'MinkUNet34' in out and 'DeepLabV3' in out
    lf('predict', '--checkpoint', tmp_path / 'cns.safetensors', '--dataset', 'custom', '--root', tmp_path / 'mine', '--out', tmp_path / 'mine_st')
    assert np.array_equal(read_ply(next((tmp_path / 'mine_st').glob('*.ply')))['label'], a)            # the exported weights predict the same
    lf('labels', '--dataset', 'custom', '--root', tmp_path / 'mine', '--out', tmp_path / 'pl', '--simulated', '--export', 'scannet')
    assert len(next((tmp_path / 'pl' / 'export-scannet').glob('*.txt')).read_text().splitlines()) == len(a)


def test_unknown_command_fails():
    r = subprocess.run([str(BIN / 'labelfree'), 'frobnicate'], capture_output=True, text=True)
    assert r.returncode == 2 and 'invalid choice' in r.stderr
