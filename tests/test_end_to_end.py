"""Each dataset end to end through the command line: `labels → train (a few steps) → predict → evaluate` on a root in
the dataset's exact layout (`labelfree.test_utils`), the written files judged by the benchmark's own code where it
installs (nuscenes-devkit) and by its documented conventions otherwise (ScanNet, SemanticKITTI), and `labelfree
evaluate`'s per-class IoU checked against one computed from the written files by the benchmark's rule.

The commands run through `labelfree.cli.main`, the `labelfree` entry point's own function (argument parsing, error
handling and all), in this process so that torch, the devkits and the networks' modules are imported once for all of
them; `tests/test_cli.py` runs the installed command itself. Training is one tiny step per scene. A dataset that
cannot be trained on (a scan without camera, nuImages without points) borrows the checkpoint of another of the same
vocabulary, trained here once for all the tests that use it."""
import json
import math
from contextlib import redirect_stderr, redirect_stdout
from io import StringIO
from pathlib import Path

import numpy as np
import pytest

from labelfree.cli import main
from labelfree.scene import NUSCENES16, SCANNET20
from labelfree.test_utils import TINY_CNS

pytestmark = pytest.mark.slow          # minutes: `make test-all` and CI run it, `make test` skips it (README, "Developing")


@pytest.fixture(scope='module', autouse=True)
def one_thread():
    "The tiny networks gain nothing from torch's threads, and on a busy machine lose much to them: one, for this module."
    import torch
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def lf(*args, status: int = 0) -> str:
    "Run `labelfree ARGS`; check its exit status; its stdout and stderr."
    out, err = StringIO(), StringIO()
    with redirect_stdout(out), redirect_stderr(err): rc = main([str(a) for a in args])
    assert rc == status, f'labelfree {args[0]} exited {rc}:\n{err.getvalue()[-3000:]}'
    return out.getvalue() + err.getvalue()


def tiny_config(path: Path, dataset: str) -> Path:
    "A training config for `dataset`: the tiny networks, no latent target (no features stored), stage 1 only: a step a scene."
    cfg = dict(TINY_CNS, pretrained_2d=False, lambda_latent=0, epochs_stage2=0, image_size=list(TINY_CNS['image_size']))
    path.write_text(''.join(f'{k}: {v}\n' for k, v in cfg.items()) + f'data: {{dataset: {dataset}}}\n')
    return path


def train(tmp: Path, dataset: str, root: Path, labels: Path, *data) -> Path:
    "`labelfree train` on `labels` of `dataset` at `root` (`data`: more data.key=value); the checkpoint."
    lf('train', '--config', tiny_config(tmp / f'{dataset}.yaml', dataset), f'data.root={root}', f'data.labels={labels}', *data,
       '--out', tmp / 'run')
    return tmp / 'run' / 'checkpoint.pt'


def report(out: Path, dim: str = '3d') -> dict:
    "`labelfree evaluate`'s per-class IoU (percent, None where a class is absent) from its report."
    return json.loads((out / 'report.json').read_text())['per_class']['cns'][dim]


def same_ious(ours: dict, theirs: dict, at_least: int) -> None:
    "`labelfree evaluate`'s IoU (percent, 2 decimals) equals the benchmark rule's (a fraction) for every class both score."
    both = [c for c in theirs if ours.get(c) is not None and not math.isnan(theirs[c])]
    for c in both: assert abs(ours[c] - 100 * theirs[c]) < 0.006, (c, ours[c], theirs[c])
    assert len(both) >= at_least, (both, ours, theirs)
    assert set(c for c, v in ours.items() if v is not None) == set(both)          # and scores no class the tool does not


def iou_by_rule(gt: np.ndarray, pred: np.ndarray, valid) -> dict:
    """Per-class IoU as ScanNet's `evaluate_semantic_label.py` (and SemanticKITTI's `iouEval`, ignoring its class 0)
    count it: points whose ground truth is not a valid id are skipped; tp / (tp + fp + fn) for each valid id, fp only
    from points of another valid id; NaN where the union is empty."""
    keep = np.isin(gt, valid)
    g, p = gt[keep], pred[keep]
    out = {}
    for k in valid:
        tp = np.sum((g == k) & (p == k)); den = np.sum(g == k) + np.sum(p == k) - tp
        out[k] = tp / den if den else float('nan')
    return out


# --- ScanNet: NYU40 benchmark ids, one per vertex of `_vh_clean_2.ply`, scored by `evaluate_semantic_label.py`'s rule
# VALID_CLASS_IDS and CLASS_LABELS of ScanNet's BenchmarkScripts/3d_evaluation/evaluate_semantic_label.py
SCANNET_VALID = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 16, 24, 28, 33, 34, 36, 39]
SCANNET_LABELS = ['wall', 'floor', 'cabinet', 'bed', 'chair', 'sofa', 'table', 'door', 'window', 'bookshelf', 'picture',
                  'counter', 'desk', 'curtain', 'refrigerator', 'shower curtain', 'toilet', 'sink', 'bathtub', 'otherfurniture']


def test_scannet_end_to_end(tmp_path):
    "labels → train → predict → evaluate on a ScanNet root (`scans/`, split lists); the .txt files as the benchmark reads them."
    from plyfile import PlyData
    from labelfree.data.scannet import ScanNet
    from labelfree.test_utils import write_scannet_fixture, write_view_labels
    root = tmp_path / 'scannet'
    write_scannet_fixture(root)
    data = ['--dataset', 'scannet', '--root', root, '--split', 'train']
    write_view_labels(ScanNet(root, split='train'), tmp_path / 'png', ('wall', 'floor', 'chair', 'table'))
    lf('labels', *data, '--out', tmp_path / 'l', '--labels-from', tmp_path / 'png')
    ck = train(tmp_path, 'scannet', root, tmp_path / 'l', 'data.split=train')
    assert 'scenes predicted as scannet' in lf('predict', '--checkpoint', ck, *data, '--out', tmp_path / 'pred', '--no-views')
    lf('evaluate', '--checkpoint', ck, *data, '--out', tmp_path / 'eval')
    gt, pred = [], []
    for name in ('scene0000_00', 'scene0001_00'):
        ply = PlyData.read(str(root / 'scans' / name / f'{name}_vh_clean_2.labels.ply'))['vertex']
        ids = np.loadtxt(tmp_path / 'pred' / f'{name}.txt', dtype=np.int64)
        assert ids.ndim == 1 and len(ids) == ply.count and set(np.unique(ids)) <= set(SCANNET_VALID)   # one id a vertex
        gt.append(np.asarray(ply['label'], np.int64)); pred.append(ids)
    theirs = iou_by_rule(np.concatenate(gt), np.concatenate(pred), SCANNET_VALID)
    same_ious(report(tmp_path / 'eval'), {n: theirs[k] for n, k in zip(SCANNET_LABELS, SCANNET_VALID)}, at_least=3)


# --- custom folders: PLY with a label per point, view PNGs; scored against the folder's own ground truth
def test_custom_end_to_end(tmp_path):
    "labels (simulated) → train → predict → evaluate on custom-format folders; the PLY read by plyfile, 2D and 3D IoU checked."
    from plyfile import PlyData
    from PIL import Image
    from labelfree.data.custom import CustomDataset, write_custom
    from labelfree.labels import scene_file_name
    from labelfree.test_utils import tiny_scene
    root = tmp_path / 'data'
    for i in range(2): write_custom(tiny_scene(i, n_views=2), root / f'room{i}')
    data = ['--dataset', 'custom', '--root', root]
    lf('labels', *data, '--out', tmp_path / 'l', '--simulated')
    ck = train(tmp_path, 'custom', root, tmp_path / 'l')
    lf('predict', '--checkpoint', ck, *data, '--out', tmp_path / 'pred')
    lf('evaluate', '--checkpoint', ck, *data, '--out', tmp_path / 'eval')
    g3, p3, g2, p2 = [], [], [], []
    for i, s in enumerate(CustomDataset(root)):
        ply = PlyData.read(str(tmp_path / 'pred' / f'{scene_file_name(s.name)}.ply'))['vertex']
        gt = PlyData.read(str(root / f'room{i}' / 'points.ply'))['vertex']
        assert ply.count == gt.count and (np.asarray(ply['label']) < len(SCANNET20)).all()
        g3.append(np.asarray(gt['label'], np.int64)); p3.append(np.asarray(ply['label'], np.int64))
        cams = json.loads((root / f'room{i}' / 'cameras.json').read_text())
        for v in cams['views']:
            g2.append(np.asarray(Image.open(root / f'room{i}' / v['labels'])).ravel())
            p2.append(np.asarray(Image.open(tmp_path / 'pred' / '2d' / scene_file_name(s.name) / f"{v['name']}.png")).ravel())
    C = list(range(len(SCANNET20)))                                    # class ids; 255 (ignore) is no valid id
    for dim, g, p in (('3d', g3, p3), ('2d', g2, p2)):
        theirs = iou_by_rule(np.concatenate(g).astype(np.int64), np.concatenate(p).astype(np.int64), C)
        same_ious(report(tmp_path / 'eval', dim), {SCANNET20.classes[k]: v for k, v in theirs.items()}, at_least=3)


# --- SemanticKITTI: one uint32 per point, raw id in the lower 16 bits through the API's learning_map_inv
# learning_map and learning_map_inv of semantic-kitti-api's config/semantic-kitti.yaml, verbatim
SK_LEARNING_MAP = {0: 0, 1: 0, 10: 1, 11: 2, 13: 5, 15: 3, 16: 5, 18: 4, 20: 5, 30: 6, 31: 7, 32: 8, 40: 9, 44: 10, 48: 11,
                   49: 12, 50: 13, 51: 14, 52: 0, 60: 9, 70: 15, 71: 16, 72: 17, 80: 18, 81: 19, 99: 0, 252: 1, 253: 7,
                   254: 6, 255: 8, 256: 5, 257: 5, 258: 4, 259: 5}
SK_LEARNING_MAP_INV = {0: 0, 1: 10, 2: 11, 3: 15, 4: 18, 5: 20, 6: 30, 7: 31, 8: 32, 9: 40, 10: 44, 11: 48, 12: 49, 13: 50,
                       14: 51, 15: 70, 16: 71, 17: 72, 18: 80, 19: 81}
SK_NAMES = ['unlabeled', 'car', 'bicycle', 'motorcycle', 'truck', 'other-vehicle', 'person', 'bicyclist', 'motorcyclist',
            'road', 'parking', 'sidewalk', 'other-ground', 'building', 'fence', 'vegetation', 'trunk', 'terrain', 'pole',
            'traffic-sign']


def judge_semantickitti(root: Path, pred: Path, ours: dict) -> None:
    "The predicted .label against the scan's: the API's conventions, and IoU by its `iouEval` (class 0 ignored)."
    gt = np.fromfile(root / 'sequences/00/labels/000000.label', np.uint32)
    raw = np.fromfile(pred / 'sequences/00/predictions/000000.label', np.uint32)
    n = (root / 'sequences/00/velodyne/000000.bin').stat().st_size // 16
    assert len(raw) == len(gt) == n and (raw >> 16 == 0).all()                      # one uint32 a point, no instance
    assert set(np.unique(raw)) <= set(SK_LEARNING_MAP_INV.values()) - {0}          # raw ids of learning_map_inv, never 0
    lut = np.zeros(max(SK_LEARNING_MAP) + 1, np.int64)
    for k, v in SK_LEARNING_MAP.items(): lut[k] = v
    theirs = iou_by_rule(lut[gt & 0xFFFF], lut[raw & 0xFFFF], list(range(1, 20)))
    same_ious(ours, {SK_NAMES[k]: v for k, v in theirs.items()}, at_least=5)


@pytest.fixture(scope='module')
def semantickitti_trained(tmp_path_factory):
    "A SemanticKITTI root with image_2, its pseudo-labels (from PNGs) and a checkpoint trained on them: (root, checkpoint)."
    from labelfree.data.semantickitti import SemanticKITTI
    from labelfree.test_utils import write_semantickitti_fixture, write_view_labels
    tmp = tmp_path_factory.mktemp('semantickitti')
    root = write_semantickitti_fixture(tmp / 'sk')
    write_view_labels(SemanticKITTI(root), tmp / 'png', ('car', 'road', 'building', 'vegetation'))
    out = lf('labels', '--dataset', 'semantickitti', '--root', root, '--out', tmp / 'l', '--labels-from', tmp / 'png')
    assert '1 scenes labelled' in out and 'without views' not in out
    return root, train(tmp, 'semantickitti', root, tmp / 'l')


def test_semantickitti_end_to_end(semantickitti_trained, tmp_path):
    "labels → train → predict → evaluate on a SemanticKITTI root with image_2 and calib.txt; the .label file by the API's rules."
    root, ck = semantickitti_trained
    data = ['--dataset', 'semantickitti', '--root', root]
    lf('predict', '--checkpoint', ck, *data, '--out', tmp_path / 'pred')
    from labelfree.labels import scene_file_name
    assert (tmp_path / 'pred' / '2d' / scene_file_name('semantickitti/00/000000') / 'image_2.png').is_file()
    lf('evaluate', '--checkpoint', ck, *data, '--out', tmp_path / 'eval')
    judge_semantickitti(root, tmp_path / 'pred', report(tmp_path / 'eval'))


def test_semantickitti_without_images_end_to_end(semantickitti_trained, tmp_path):
    """A root of scans and labels only (no image_2, no calib.txt): `labels` labels nothing and says so, `train` has nothing
    to learn from and says so; the checkpoint trained with images predicts and is evaluated on it (3D only)."""
    from labelfree.test_utils import write_semantickitti_fixture
    root = write_semantickitti_fixture(tmp_path / 'sk', images=False)
    data = ['--dataset', 'semantickitti', '--root', root]
    out = lf('labels', *data, '--out', tmp_path / 'l', '--simulated')
    assert '1 without views' in out and 'WARNING: no point of the 1 scenes labelled got a label' in out
    out = lf('train', '--config', tiny_config(tmp_path / 'sk.yaml', 'semantickitti'), f'data.root={root}',
             f'data.labels={tmp_path / "l"}', '--out', tmp_path / 'run', status=2)
    assert "scene '00/000000' has no camera views: CNS co-trains a 2D and a 3D network" in out, out[-2000:]
    ck = semantickitti_trained[1]
    lf('predict', '--checkpoint', ck, *data, '--out', tmp_path / 'pred')
    assert not (tmp_path / 'pred' / '2d').exists()
    lf('evaluate', '--checkpoint', ck, *data, '--out', tmp_path / 'eval')
    assert json.loads((tmp_path / 'eval' / 'report.json').read_text())['miou']['cns'].keys() == {'3d'}
    judge_semantickitti(root, tmp_path / 'pred', report(tmp_path / 'eval'))


# --- nuScenes: the devkit's validate_submission and LidarSegEval
def judge_nuscenes(monkeypatch, root: Path, version: str, split: str, pred: Path, ours: dict) -> None:
    "The devkit (on the one scene the root holds as `split`) validates the submission; its LidarSegEval IoU equals ours."
    import nuscenes.eval.lidarseg.utils as lidarseg_utils
    from nuscenes.eval.lidarseg.evaluate import LidarSegEval
    from nuscenes.eval.lidarseg.validate_submission import validate_submission
    from nuscenes.nuscenes import NuScenes as DevkitNuScenes
    from labelfree.data.nuscenes import open_devkit
    monkeypatch.setattr(lidarseg_utils, 'create_splits_scenes', lambda verbose=False: {split: ['scene-0061']})
    nusc = open_devkit(DevkitNuScenes, version, root)
    validate_submission(nusc, str(pred), split)
    theirs = LidarSegEval(nusc, str(pred), split).evaluate()['iou_per_class']
    same_ious(ours, {c: theirs[c] for c in NUSCENES16.classes}, at_least=8)


def nuscenes_chain(tmp: Path, version: str, split: str):
    "A nuScenes root of `version`, labelled from PNGs and trained on: (root, the data arguments, checkpoint)."
    from labelfree.data.nuscenes import NuScenes
    from labelfree.test_utils import write_nuscenes_fixture, write_view_labels
    root = tmp / 'nus'
    write_nuscenes_fixture(root, version)
    write_view_labels(NuScenes(root, version=version), tmp / 'png', ('car', 'truck', 'driveable_surface'))
    data = ['--dataset', 'nuscenes', '--root', root, '--version', version, '--split', split]
    lf('labels', *data, '--out', tmp / 'l', '--labels-from', tmp / 'png')
    return root, data, train(tmp, 'nuscenes', root, tmp / 'l', f'data.version={version}', f'data.split={split}')


@pytest.fixture(scope='module')
def nuscenes_mini_trained(tmp_path_factory):
    "A v1.0-mini root (split mini_train), labelled and trained on: (root, data arguments, checkpoint)."
    return nuscenes_chain(tmp_path_factory.mktemp('nuscenes-mini'), 'v1.0-mini', 'mini_train')


def test_nuscenes_mini_end_to_end(nuscenes_mini_trained, tmp_path, monkeypatch):
    "labels → train → predict → evaluate on a v1.0-mini root; the devkit validates the submission and scores it as we do."
    root, data, ck = nuscenes_mini_trained
    lf('predict', '--checkpoint', ck, *data, '--out', tmp_path / 'pred', '--no-views')
    lf('evaluate', '--checkpoint', ck, *data, '--out', tmp_path / 'eval')
    judge_nuscenes(monkeypatch, root, 'v1.0-mini', 'mini_train', tmp_path / 'pred', report(tmp_path / 'eval'))


def test_nuscenes_trainval_end_to_end(tmp_path, monkeypatch):
    "The same on a v1.0-trainval root (split train, the one scene-0061 belongs to), trained on its own."
    root, data, ck = nuscenes_chain(tmp_path, 'v1.0-trainval', 'train')
    lf('predict', '--checkpoint', ck, *data, '--out', tmp_path / 'pred', '--no-views')
    lf('evaluate', '--checkpoint', ck, *data, '--out', tmp_path / 'eval')
    judge_nuscenes(monkeypatch, root, 'v1.0-trainval', 'train', tmp_path / 'pred', report(tmp_path / 'eval'))


# --- nuImages: 2D only; masks decoded by the devkit's own get_segmentation
def test_nuimages_end_to_end(nuscenes_mini_trained, tmp_path):
    """nuImages has no points: `labels` makes 2D pseudo-labels, `train` (CNS co-trains a 3D network) has nothing to train
    on and says so; the nuScenes checkpoint (same 16 classes) predicts view PNGs, and `evaluate`'s 2D IoU equals one
    computed from them against the devkit's `get_segmentation` masks."""
    from PIL import Image
    from nuimages import NuImages as DevkitNuImages
    from nuimages.utils.utils import name_to_index_mapping
    from nuscenes.eval.lidarseg.utils import LidarsegClassMapper
    from nuscenes.nuscenes import NuScenes as DevkitNuScenes
    from labelfree.data.nuscenes import open_devkit
    from labelfree.labels import load_pseudo_labels
    from labelfree.test_utils import write_nuimages_fixture
    root = write_nuimages_fixture(tmp_path / 'nuim')
    data = ['--dataset', 'nuimages', '--root', root, '--version', 'v1.0-mini']
    assert '1 images without points (2D labels only)' in lf('labels', *data, '--out', tmp_path / 'l', '--simulated')
    pl = load_pseudo_labels(next((tmp_path / 'l').glob('*.npz')))
    assert len(pl.labels3d) == 0 and pl.labels2d[0].shape == (900, 1600)
    out = lf('train', '--config', tiny_config(tmp_path / 'nuim.yaml', 'nuimages'), f'data.root={root}', 'data.version=v1.0-mini',
             f'data.labels={tmp_path / "l"}', '--out', tmp_path / 'run', status=2)
    assert 'has no points: CNS co-trains a 2D and a 3D network' in out, out[-2000:]
    ck = nuscenes_mini_trained[2]
    lf('predict', '--checkpoint', ck, *data, '--out', tmp_path / 'pred')
    lf('evaluate', '--checkpoint', ck, *data, '--out', tmp_path / 'eval')
    nuim = open_devkit(DevkitNuImages, 'v1.0-mini', root)
    sem, _ = nuim.get_segmentation(nuim.sample[0]['key_camera_token'])   # the devkit's category indices, 0 background
    fine = {i: n for n, i in name_to_index_mapping(nuim.category).items()}
    coarse = LidarsegClassMapper(open_devkit(DevkitNuScenes, 'v1.0-mini', nuscenes_mini_trained[0])).get_fine2coarse()
    gt = np.full(sem.shape, -1, np.int64)                                # the lidarseg challenge's 16 classes, by name
    for i, n in fine.items(): gt[sem == i] = NUSCENES16.classes.index(coarse[n]) if coarse[n] in NUSCENES16.classes else -1
    from labelfree.labels import scene_file_name
    scene = scene_file_name(f"nuimages/{nuim.sample[0]['token']}")
    pred = np.asarray(Image.open(tmp_path / 'pred' / '2d' / scene / 'CAM_FRONT.png'), np.int64)
    theirs = iou_by_rule(gt.ravel(), pred.ravel(), list(range(len(NUSCENES16))))
    same_ious(report(tmp_path / 'eval', '2d'), {NUSCENES16.classes[k]: v for k, v in theirs.items()}, at_least=3)
