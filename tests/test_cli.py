"The installed `labelfree` command works end to end."
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from run_cli import run_cli

BIN = Path(sys.executable).parent


def test_samples_lists_every_sample():
    out = subprocess.run([str(BIN / 'labelfree'), 'samples'], capture_output=True, text=True, check=True).stdout
    for name in ('nuscenes-mini', 'semantickitti', 'kitti', 'icl-nuim', 'tum'):
        assert name in out


@pytest.fixture(scope='module')
def demo_run(tmp_path_factory):
    "`labelfree demo --quick` in a fresh cache: its output folder and its completed process."
    tmp_path = tmp_path_factory.mktemp('demo')
    env = dict(os.environ, LABELFREE_CACHE=str(tmp_path / 'cache'))
    r = subprocess.run([str(BIN / 'labelfree'), 'demo', '--quick', '--out', str(tmp_path / 'out')], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    return tmp_path / 'out', r


@pytest.mark.slow          # the quick demo: a minute of training
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
    assert 'cns_stage2_fused' in rep['miou'] and {'fused_2d_beats_refined', 'fused_classes_survive'} <= set(rep['claims'])
    assert 'fused 2d beats refined: ' in r.stdout


def lf(*args):
    r = subprocess.run([str(BIN / 'labelfree'), *map(str, args)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout


@pytest.mark.slow          # the quick demo: a minute of training
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
    lf('predict', '--checkpoint', ck, '--dataset', 'custom', '--root', tmp_path / 'mine', '--out', tmp_path / 'mine_fused', '--fuse')
    import json
    from labelfree.data.custom import CustomDataset
    from labelfree.evaluate import fuse_scene
    from labelfree.predict import load_for_prediction
    assert json.loads((tmp_path / 'mine_fused' / 'predictions.json').read_text())['fused'] is True
    tr = load_for_prediction(ck, 'cpu')
    fused = fuse_scene(tr.net2, tr.net3, CustomDataset(tmp_path / 'mine')[0], tr.cfg.image_size)[1]
    assert np.array_equal(read_ply(next((tmp_path / 'mine_fused').glob('*.ply')))['label'], fused)   # what fuse_scene answers
    ev = lf('evaluate', '--checkpoint', ck, '--dataset', 'custom', '--root', tmp_path / 'mine', '--out', tmp_path / 'ev', '--fuse')
    assert 'cns_fused: ' in ev and set(json.loads((tmp_path / 'ev' / 'report.json').read_text())['miou']) == {'cns', 'cns_fused'}
    out = lf('export', '--checkpoint', ck, '--out', tmp_path / 'cns.safetensors')
    assert 'MinkUNet34' in out and 'DeepLabV3' in out
    lf('predict', '--checkpoint', tmp_path / 'cns.safetensors', '--dataset', 'custom', '--root', tmp_path / 'mine', '--out', tmp_path / 'mine_st')
    assert np.array_equal(read_ply(next((tmp_path / 'mine_st').glob('*.ply')))['label'], a)            # the exported weights predict the same
    lf('labels', '--dataset', 'custom', '--root', tmp_path / 'mine', '--out', tmp_path / 'pl', '--simulated', '--export', 'scannet')
    assert len(next((tmp_path / 'pl' / 'export-scannet').glob('*.txt')).read_text().splitlines()) == len(a)


def test_unknown_command_fails():
    r = subprocess.run([str(BIN / 'labelfree'), 'frobnicate'], capture_output=True, text=True)
    assert r.returncode == 2 and 'invalid choice' in r.stderr


# --- issue 27: real datasets through `labels`, `predict` and `--export` into each benchmark's own format
def run(*args):
    "The command's entry point in-process (`run_cli`), as the console script calls it."
    return run_cli(*args)


def untrained_checkpoint(path, vocab, in_channels):
    "A CNS checkpoint of `vocab`'s classes with untrained tiny networks: enough to test what `predict` writes."
    from labelfree.test_utils import TINY_CNS
    from labelfree.train.cns import CNSConfig, CNSTrainer, save_checkpoint
    tr = CNSTrainer(CNSConfig(**dict(TINY_CNS, pretrained_2d=False)), len(vocab), in_channels)
    tr.classes = list(vocab.classes)
    save_checkpoint(tr, path)
    return path


def test_labels_scan_without_images(tmp_path):
    "Item 1: a SemanticKITTI scan without image_2 is valid input: nothing labelled, said so, exit 0; the export names it."
    import numpy as np
    from labelfree.scene import IGNORE_INDEX
    from labelfree.labels import load_pseudo_labels
    from labelfree.test_utils import write_semantickitti_fixture
    root = write_semantickitti_fixture(tmp_path / 'sk', images=False)
    r = run('labels', '--dataset', 'semantickitti', '--root', root, '--out', tmp_path / 'l', '--simulated', '--export', 'semantickitti')
    assert r.returncode == 0, r.stderr[-2000:]
    assert '1 scenes labelled' in r.stdout and '1 without views' in r.stdout and 'NOT EXPORTED 00/000000' in r.stdout
    assert 'WARNING: no point of the 1 scenes labelled got a label' in r.stderr
    pl = load_pseudo_labels(next((tmp_path / 'l').glob('*.npz')))
    assert (pl.labels3d == IGNORE_INDEX).all() and len(pl.labels3d) == len(np.fromfile(root / 'sequences/00/velodyne/000000.bin', np.float32)) // 4


def test_labels_picks_a_sample(tmp_path):
    "Item 2: `labels --scene` picks bundled samples; the samples (no single vocabulary) are labelled each in its own."
    r = run('labels', '--dataset', 'samples', '--scene', 'semantickitti', '--out', tmp_path / 'l', '--simulated')
    assert r.returncode == 0, r.stderr[-2000:]
    assert [p.name for p in (tmp_path / 'l').glob('*.npz')] == ['semantickitti.npz'] and '1 without views' in r.stdout
    r = run('labels', '--dataset', 'samples', '--scene', 'semantickitti', '--out', tmp_path / 'l', '--simulated', '--check')
    assert r.returncode == 0 and '1/1 scenes labelled' in r.stdout


def test_labels_export_nuscenes_is_a_valid_submission(tmp_path, monkeypatch):
    "Items 5 and 6: `labels --export nuscenes` writes <split>/submission.json, the devkit validates it, and the points no camera sees take their nearest labelled neighbour's class (never a fixed one: no barrier here)."
    import numpy as np
    from labelfree.data.nuscenes import open_devkit
    from labelfree.data.nuscenes import NuScenes
    from labelfree.test_utils import write_nuscenes_fixture, write_view_labels
    from nuscenes.nuscenes import NuScenes as DevkitNuScenes
    from nuscenes.eval.lidarseg.validate_submission import validate_submission
    root = tmp_path / 'nus'
    write_nuscenes_fixture(root, 'v1.0-mini')
    ds = NuScenes(root, version='v1.0-mini')
    write_view_labels(ds, tmp_path / 'png', ('car', 'truck'))                  # car on the left half of each image, truck on the right
    s = ds[0]
    r = run('labels', '--dataset', 'nuscenes', '--root', root, '--version', 'v1.0-mini', '--split', 'mini_train', '--out', tmp_path / 'l',
            '--labels-from', tmp_path / 'png', '--export', 'nuscenes', '--export-out', tmp_path / 'sub')
    assert r.returncode == 0, r.stderr[-2000:]
    assert '14,482 of 34,688 points no camera sees took the class of their nearest labelled point' in r.stdout
    import nuscenes.eval.lidarseg.utils as lidarseg_utils      # the fixture holds one scene of mini_train: the split is that scene
    monkeypatch.setattr(lidarseg_utils, 'create_splits_scenes', lambda verbose=False: {'mini_train': ['scene-0061']})
    validate_submission(open_devkit(DevkitNuScenes, 'v1.0-mini', root), str(tmp_path / 'sub'), 'mini_train')
    pred = np.fromfile(tmp_path / 'sub' / 'lidarseg' / 'mini_train' / f"{s.meta['lidar_token']}_lidarseg.bin", np.uint8)
    assert len(pred) == 34688 and set(np.unique(pred)) == {4, 10}          # car, truck (class index + 1); no barrier (1)


def test_scenes_of_a_nuscenes_mini_root(tmp_path):
    "Item 9: `scenes` takes --version and --split, as `labels` and `predict` do."
    from labelfree.test_utils import write_nuscenes_fixture
    write_nuscenes_fixture(tmp_path / 'nus', 'v1.0-mini')
    r = run('scenes', '--dataset', 'nuscenes', '--root', tmp_path / 'nus', '--version', 'v1.0-mini', '--split', 'mini_train')
    assert r.returncode == 0, r.stderr[-2000:]
    assert 'scene-0061' in r.stdout and '34688 points' in r.stdout and '6 views' in r.stdout


def test_bundled_samples_in_their_own_formats(tmp_path):
    "Item 3 (and 1, 8): the nuScenes and SemanticKITTI samples predicted into their native formats; the scan without images too."
    import numpy as np
    from labelfree.scene import NUSCENES16, SEMANTICKITTI19
    ck = untrained_checkpoint(tmp_path / 'sk.pt', SEMANTICKITTI19, 2)
    r = run('predict', '--checkpoint', ck, '--dataset', 'samples', '--scene', 'semantickitti', '--format', 'semantickitti', '--out', tmp_path / 'sk')
    assert r.returncode == 0, r.stderr[-2000:]
    raw = np.fromfile(tmp_path / 'sk' / 'sequences' / '00' / 'predictions' / '000000.label', np.uint32)
    from labelfree.data.samples import sample_dir
    assert len(raw) == (sample_dir('semantickitti') / '000000.bin').stat().st_size // 16 and set(np.unique(raw & 0xFFFF)) <= {10, 11, 15, 18, 20, 30, 31, 32, 40, 44, 48, 49, 50, 51, 70, 71, 72, 80, 81}
    ck = untrained_checkpoint(tmp_path / 'nu.pt', NUSCENES16, 2)
    r = run('predict', '--checkpoint', ck, '--dataset', 'samples', '--scene', 'nuscenes-mini', '--format', 'nuscenes', '--split', 'mini_train',
            '--no-views', '--out', tmp_path / 'nu')
    assert r.returncode == 0, r.stderr[-2000:]
    assert (tmp_path / 'nu' / 'mini_train' / 'submission.json').is_file()
    pred = np.fromfile(tmp_path / 'nu' / 'lidarseg' / 'mini_train' / '9d9bf11fb0e144c8b446d54a8a00184f_lidarseg.bin', np.uint8)
    assert len(pred) == 34688 and 1 <= pred.min() and pred.max() <= 16


def test_predict_retry_with_another_format(tmp_path):
    "Item 4: a predict that fails before predicting anything leaves no predictions.json: a retry with another format works."
    from labelfree.scene import SCANNET20
    from labelfree.data.custom import write_custom
    from labelfree.test_utils import tiny_scene
    write_custom(tiny_scene(0, n_views=2), tmp_path / 'data' / 's0')
    ck = untrained_checkpoint(tmp_path / 'ck.pt', SCANNET20, 4)
    args = ['predict', '--checkpoint', ck, '--dataset', 'custom', '--root', tmp_path / 'data', '--out', tmp_path / 'p']
    r = run(*args, '--format', 'semantickitti')
    assert r.returncode == 2 and 'needs a SemanticKITTI scan' in r.stderr, r.stderr[-2000:]
    assert not (tmp_path / 'p' / 'predictions.json').exists()
    r = run(*args, '--format', 'scannet')
    assert r.returncode == 0, r.stderr[-2000:]
    assert len(list((tmp_path / 'p').glob('*.txt'))) == 1


def kitti_as_semantickitti(root):
    "The bundled KITTI frame as a SemanticKITTI sequence with image_2 and calib.txt (P2, Tr), 500 points behind the camera added."
    import json
    import numpy as np
    from labelfree.data.samples import sample_dir
    src = sample_dir('kitti')
    c = json.loads((src / 'calib.json').read_text())
    d = root / 'sequences' / '00'
    for sub in ('velodyne', 'image_2'): (d / sub).mkdir(parents=True)
    scan = np.fromfile(src / c['lidar']['path'], np.float32).reshape(-1, 4)      # cropped to the camera: every point seen
    behind = scan[:500] * np.float32([-1, 1, 1, 1])                                # so add some behind the car, none seen
    np.concatenate([scan, behind]).tofile(d / 'velodyne' / '000000.bin')
    (d / 'image_2' / '000000.png').write_bytes((src / c['cameras']['CAM2']['path']).read_bytes())
    m = lambda a: ' '.join(f'{x:.12e}' for x in np.asarray(a, np.float64)[:3].ravel())
    (d / 'calib.txt').write_text(f"P2: {m(c['cameras']['CAM2']['cam2img'])}\nTr: {m(c['cameras']['CAM2']['lidar2cam'])}\n")
    return root


def test_labels_export_fills_unseen_points_with_benchmark_ids(tmp_path):
    "Items 7 and 8: ScanNet and SemanticKITTI exports hold a benchmark id for every point (no 0), other-vehicle as 20."
    import numpy as np
    from PIL import Image
    from labelfree.scene import SEMANTICKITTI19
    from labelfree.data.semantickitti import SemanticKITTI
    from labelfree.data.custom import write_custom
    from labelfree.labels import scene_file_name
    from labelfree.test_utils import tiny_scene
    # ScanNet ids for a custom room, some of whose points no camera sees
    write_custom(tiny_scene(0, n_views=2), tmp_path / 'data' / 's0')
    r = run('labels', '--dataset', 'custom', '--root', tmp_path / 'data', '--out', tmp_path / 'l', '--simulated', '--export', 'scannet')
    assert r.returncode == 0 and 'points no camera sees took the class of their nearest labelled point' in r.stdout, r.stderr[-2000:]
    ids = np.loadtxt(next((tmp_path / 'l' / 'export-scannet').glob('*.txt')), dtype=int)
    assert set(ids) <= {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 16, 24, 28, 33, 34, 36, 39}     # VALID_CLASS_IDS
    # SemanticKITTI: a scan with image_2, labelled other-vehicle left and road right; the points behind the camera filled
    root = kitti_as_semantickitti(tmp_path / 'sk')
    s = SemanticKITTI(root)[0]
    v = s.views[0]
    lab = np.full(v.hw, SEMANTICKITTI19.index('other-vehicle'), np.uint8); lab[:, v.hw[1] // 2:] = SEMANTICKITTI19.index('road')
    (tmp_path / 'png' / scene_file_name(s.name)).mkdir(parents=True)
    Image.fromarray(lab).save(tmp_path / 'png' / scene_file_name(s.name) / f'{v.name}.png')
    r = run('labels', '--dataset', 'semantickitti', '--root', root, '--out', tmp_path / 'skl', '--labels-from', tmp_path / 'png',
            '--export', 'semantickitti')
    assert r.returncode == 0 and '500 of ' in r.stdout and 'points no camera sees took' in r.stdout, r.stderr[-2000:]
    raw = np.fromfile(tmp_path / 'skl' / 'export-semantickitti' / 'sequences' / '00' / 'predictions' / '000000.label', np.uint32)
    assert len(raw) == len(s.points) and set(np.unique(raw)) == {20, 40}
