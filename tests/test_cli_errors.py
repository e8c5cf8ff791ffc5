"Bad input through the `labelfree` command as a user runs it: one line on stderr naming what is wrong, exit status 2, no traceback."
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from run_cli import run_cli

BIN = Path(sys.executable).parent


def run(*args, env=None):
    "The command's entry point in-process (`run_cli`): saves each case the seconds of a fresh interpreter importing torch."
    return run_cli(*args, env=env)


def test_console_script(tmp_path):
    "The installed `labelfree` command gives the same one line and status as its entry point run in-process."
    args = ('train', '--config', tmp_path / 'none.yaml')
    r = subprocess.run([str(BIN / 'labelfree'), *map(str, args)], capture_output=True, text=True, timeout=600)
    test = run(*args)
    assert_one_line(r, 'none.yaml'); assert_one_line(test, 'none.yaml')
    assert r.stderr.strip().splitlines()[-1] == test.stderr.strip().splitlines()[-1], (r.stderr, test.stderr)


def scene_folder(root: Path) -> Path:
    "A small valid custom-format scene folder."
    from labelfree.data.custom import write_custom
    from labelfree.data.procedural import make_scene
    write_custom(make_scene(21, 0, n_views=2, width=80, height=60, points_per_m2=100), root / 's0')
    return root


def cameras(root: Path) -> Path: return root / 's0' / 'cameras.json'


def edit_cameras(root: Path, f):
    c = json.loads(cameras(root).read_text()); f(c); cameras(root).write_text(json.dumps(c))


def _list(root): cameras(root).write_text('[1, 2]')
def _ragged_k(root): edit_cameras(root, lambda c: c['views'][0].__setitem__('K', [[1, 0, 0], [0, 1]]))
def _depth_scale(root): edit_cameras(root, lambda c: c['views'][0].__setitem__('depth_scale', 'abc'))
def _no_views(root): edit_cameras(root, lambda c: c.__setitem__('views', []))
def _no_points(root): (root / 's0' / 'points.ply').unlink()
def _junk_points(root): (root / 's0' / 'points.ply').write_bytes(b'not a ply file')
def _junk_image(root): (root / 's0' / 'color' / '000000.png').write_bytes(b'junk')
def _no_image(root): (root / 's0' / 'color' / '000000.png').unlink()
def _bad_json(root): cameras(root).write_text('{"views": [')

# --- more scene-folder faults
def _no_cameras(root): cameras(root).unlink()
def _no_k(root): edit_cameras(root, lambda c: c['views'][0].pop('K'))
def _bad_pose(root): edit_cameras(root, lambda c: c['views'][0].__setitem__(next(k for k in c['views'][0] if 'pose' in k or 'world' in k), [[1, 0], [0, 1]]))
def _junk_depth(root): next((root / 's0' / 'depth').iterdir()).write_bytes(b'junk')
def _no_depth(root): next((root / 's0' / 'depth').iterdir()).unlink()
def _empty_points(root):
    (root / 's0' / 'points.ply').write_text('ply\nformat ascii 1.0\nelement vertex 0\nproperty float x\nproperty float y\nproperty float z\nend_header\n')


SCENE_CASES = {  # a broken scene folder, and a word the one-line message must contain
    'cameras.json is a list': (_list, 'cameras.json'),
    'ragged K': (_ragged_k, 'K'),
    'non-numeric depth_scale': (_depth_scale, 'depth_scale'),
    'empty views': (_no_views, 'views'),
    'no points file': (_no_points, 'points.ply'),
    'junk points file': (_junk_points, 'points.ply'),
    'junk image': (_junk_image, '000000.png'),
    'missing image': (_no_image, '000000.png'),
    'cameras.json syntax error': (_bad_json, 'cameras.json'),
    'no cameras.json': (_no_cameras, 'cameras.json'),
    'view without K': (_no_k, 'K'),
    'pose not 4x4': (_bad_pose, 'cameras.json'),
    'junk depth': (_junk_depth, 'depth'),
    'missing depth': (_no_depth, 'depth'),
    'no points in points.ply': (_empty_points, 'no points'),
}


def assert_one_line(r, *words):
    assert r.returncode == 2, (r.returncode, r.stderr[-1500:])
    assert 'Traceback' not in r.stderr, r.stderr[-1500:]
    line = r.stderr.strip().splitlines()[-1]
    assert line.startswith('labelfree '), line
    for w in words: assert w in line, (w, line)


@pytest.mark.parametrize('case', list(SCENE_CASES))
def test_broken_scene_folder(tmp_path, case):
    root = scene_folder(tmp_path / 'data')
    breaker, word = SCENE_CASES[case]
    breaker(root)
    assert_one_line(run('labels', '--dataset', 'custom', '--root', root, '--out', tmp_path / 'labels', '--simulated'), word)


CONFIG_CASES = {  # a config override or file problem, and a word the message must contain
    'override not an int': (['epochs_stage1=abc'], 'epochs_stage1'),
    'override not a bool': (['augment=3'], 'augment'),
    'unknown override': (['no_such_key=1'], 'no_such_key'),
    'override without =': (['epochs_stage1'], 'epochs_stage1'),
    'no labels folder': ([], 'data.labels'),
}


@pytest.mark.parametrize('case', list(CONFIG_CASES))
def test_bad_train_config(tmp_path, case):
    over, word = CONFIG_CASES[case]
    assert_one_line(run('train', '--config', 'demo', *over, '--out', tmp_path / 'run'), word)


def test_missing_config_file(tmp_path):
    assert_one_line(run('train', '--config', tmp_path / 'none.yaml'), 'none.yaml')


def test_yaml_syntax_error(tmp_path):
    (tmp_path / 'bad.yaml').write_text('seed: [1, 2\nepochs_stage1: 3\n')
    assert_one_line(run('train', '--config', tmp_path / 'bad.yaml'), 'bad.yaml')


def test_config_field_of_wrong_type_in_file(tmp_path):
    (tmp_path / 'c.yaml').write_text('epochs_stage1: three\n')
    assert_one_line(run('train', '--config', tmp_path / 'c.yaml'), 'c.yaml', 'epochs_stage1')


CHECKPOINT_CASES = {
    'missing': lambda p: None,
    'random bytes': lambda p: p.write_bytes(np.random.default_rng(0).bytes(4096)),
    'empty': lambda p: p.write_bytes(b''),
}


@pytest.mark.parametrize('case', list(CHECKPOINT_CASES))
def test_bad_checkpoint(tmp_path, case):
    p = tmp_path / 'ck.pt'
    CHECKPOINT_CASES[case](p)
    assert_one_line(run('evaluate', '--checkpoint', p, '--dataset', 'samples', '--out', tmp_path / 'ev'), 'ck.pt')


def test_missing_dataset_root(tmp_path):
    assert_one_line(run('labels', '--dataset', 'custom', '--root', tmp_path / 'nowhere', '--out', tmp_path / 'l', '--simulated'), 'nowhere')


def test_probe_unknown_scene(tmp_path):
    (tmp_path / 'ck.pt').write_bytes(b'not read: the scene is checked first')
    assert_one_line(run('probe', '--checkpoint', tmp_path / 'ck.pt', '--dataset', 'samples', '--scene', 'nope'), 'nope')


def test_unexpected_error_says_bug(tmp_path):
    "A failure that is not bad input keeps its traceback and says it is a bug (here: a command that raises RuntimeError)."
    code = ("import labelfree.cli as c, sys\n"          # the parser is derived from the command: break what it calls
            "def boom(*a, **kw): raise RuntimeError('boom')\n"
            "c.get_dataset = boom\n"
            "sys.exit(c.main(['labels', '--dataset', 'procedural', '--out', 'x', '--simulated']))")
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 1 and 'Traceback' in r.stderr and 'a bug in labelfree' in r.stderr


def test_debug_shows_traceback(tmp_path):
    r = run('--debug', 'train', '--config', tmp_path / 'none.yaml')
    assert r.returncode != 0 and 'Traceback' in r.stderr


def test_dense_mode_needs_clip(tmp_path):
    assert_one_line(run('labels', '--dataset', 'procedural', '--out', tmp_path / 'l', '--simulated', '--dense-mode', 'naclip'), '--dense-mode', '--clip')


def test_unknown_dense_mode(tmp_path):
    assert_one_line(run('labels', '--dataset', 'procedural', '--out', tmp_path / 'l', '--clip', 'ViT-B-16', '--dense-mode', 'segclip'), '--dense-mode', 'segclip')


def test_empty_dataset_folder(tmp_path):
    (tmp_path / 'data').mkdir()
    assert_one_line(run('labels', '--dataset', 'custom', '--root', tmp_path / 'data', '--out', tmp_path / 'l', '--simulated'), 'data')


# --- command-line values
LABELS = ['labels', '--dataset', 'procedural', '--simulated']
OPTION_CASES = {  # arguments after `labelfree`, and words the message must contain
    'unknown device': ([*LABELS, '--out', 'OUT', '--device', 'gpu'], ["'gpu'", 'device']),
    'absent GPU index': ([*LABELS, '--out', 'OUT', '--device', 'cuda:7'], ["'cuda:7'"]),
    'shard not numbers': ([*LABELS, '--out', 'OUT', '--shard', 'a/b'], ['--shard', 'a/b']),
    'shard index too large': ([*LABELS, '--out', 'OUT', '--shard', '3/2'], ['shard 3/2']),
    'shard without slash': ([*LABELS, '--out', 'OUT', '--shard', '1'], ['--shard', "'1'"]),
    'unknown dataset': (['labels', '--dataset', 'kinetics', '--simulated', '--out', 'OUT'], ['--dataset', 'kinetics']),
    'dataset root needed': (['labels', '--dataset', 'scannet', '--simulated', '--out', 'OUT'], ['scannet', 'root']),
    'out is a file': ([*LABELS, '--out', 'FILE'], ['FILE']),
    'evaluate: unknown device': (['evaluate', '--checkpoint', 'CK', '--dataset', 'samples', '--device', 'tpu9'], ["'tpu9'"]),
    'train: device override': (['train', '--config', 'demo', 'device=gpu', 'data.labels=OUT'], ["'gpu'"]),
    'train: unknown data key': (['train', '--config', 'demo', 'data.no_such=1', 'data.labels=OUT'], ['data.no_such']),
    'train: image_size not a pair': (['train', '--config', 'demo', 'image_size=abc'], ['image_size']),
    'distill: override not a number': (['distill', '--config', 'scalr_demo', 'lr=fast'], ['lr']),
    'distill: missing config': (['distill', '--config', 'NOWHERE.yaml'], ['NOWHERE.yaml']),
    'probe: missing checkpoint': (['probe', '--checkpoint', 'CK', '--dataset', 'samples'], ['ck.pt', 'not found']),
}


@pytest.mark.parametrize('case', list(OPTION_CASES))
def test_bad_option(tmp_path, case):
    args, words = OPTION_CASES[case]
    (tmp_path / 'FILE').write_text('x')
    sub = {'NOWHERE.yaml': tmp_path / 'NOWHERE.yaml', 'OUT': tmp_path / 'out', 'FILE': tmp_path / 'FILE', 'CK': tmp_path / 'ck.pt'}
    def fill(x):
        for k, v in sub.items(): x = x.replace(k, str(v))
        return x
    assert_one_line(run(*map(fill, args)), *words)


# --- label caches
def _labelled(tmp_path):
    root = scene_folder(tmp_path / 'data')
    out = tmp_path / 'labels'
    r = run('labels', '--dataset', 'custom', '--root', root, '--out', out, '--simulated')
    assert r.returncode == 0, r.stderr[-1500:]
    return root, out


def test_truncated_label_file_named_and_redone(tmp_path):
    root, out = _labelled(tmp_path)
    f = next(out.glob('*.npz')); good = f.read_bytes(); f.write_bytes(good[:len(good) // 3])
    assert_one_line(run('labels', '--dataset', 'custom', '--root', root, '--out', out, '--simulated'), f.name, '--redo-broken')
    r = run('labels', '--dataset', 'custom', '--root', root, '--out', out, '--simulated', '--redo-broken')
    assert r.returncode == 0 and f.read_bytes() == good, r.stderr[-1500:]


def test_label_folder_of_another_configuration(tmp_path):
    root, out = _labelled(tmp_path)
    assert_one_line(run('labels', '--dataset', 'custom', '--root', root, '--out', out, '--simulated', '--severity', '0.9'), 'labels.json')


# --- checkpoints
def test_malicious_checkpoint_through_evaluate(tmp_path):
    from labelfree.test_utils import write_malicious_checkpoint
    write_malicious_checkpoint(tmp_path / 'evil.pt', tmp_path / 'RAN')
    assert_one_line(run('evaluate', '--checkpoint', tmp_path / 'evil.pt', '--dataset', 'samples'), 'evil.pt', 'refused')
    assert not (tmp_path / 'RAN').exists()


def test_checkpoint_of_another_vocabulary(tmp_path):
    code = ("import sys\n"
            "from labelfree.train.cns import CNSConfig, CNSTrainer, save_checkpoint\n"
            "from labelfree.scene import NUSCENES16\n"
            "tr = CNSTrainer(CNSConfig(backbone_2d='efficientnet_lite0', pretrained_2d=False, width_3d=0.25, device='cpu'), 16, 4)\n"
            "tr.classes = list(NUSCENES16.classes)\n"
            "save_checkpoint(tr, sys.argv[1])")
    subprocess.run([sys.executable, '-c', code, tmp_path / 'ck16.pt'], check=True, capture_output=True)
    assert_one_line(run('evaluate', '--checkpoint', tmp_path / 'ck16.pt', '--dataset', 'procedural', '--out', tmp_path / 'ev'),
                    'ck16.pt', 'trained on 16 classes, the data has 20')


def test_cuda_device_refused_in_one_line():
    "No GPU here: every command given a CUDA device exits 2 with one line, before any work (the GPU demo config too)."
    for args in (['train', '--config', 'demo', 'device=cuda'], ['demo', '--config', 'demo_gpu'], ['demo', 'device=cuda:1']):
        r = run(*args)
        assert_one_line(r, 'cuda')


# --- issue 27: bad input that passed silently
def test_scenes_of_an_empty_dataset_folder(tmp_path):
    (tmp_path / 'data').mkdir()
    assert_one_line(run('scenes', '--dataset', 'custom', '--root', tmp_path / 'data'), 'data', 'the dataset has no scenes')


def test_labels_warns_when_no_view_sees_a_point(tmp_path):
    "Views whose depth is all zero: the run goes on (exit 0), and stderr says plainly that every point went unlabelled."
    from PIL import Image
    root = scene_folder(tmp_path / 'data')
    for f in (root / 's0' / 'depth').iterdir():
        Image.fromarray(np.zeros_like(np.asarray(Image.open(f)))).save(f)
    r = run('labels', '--dataset', 'custom', '--root', root, '--out', tmp_path / 'l', '--simulated')
    assert r.returncode == 0, r.stderr[-1500:]
    assert '1 with no point seen by any view' in r.stdout
    assert "WARNING: scene 's0': its views see none of its points, so every point went unlabelled" in r.stderr
    assert 'WARNING: no point of the 1 scenes labelled got a label' in r.stderr


def test_labels_samples_simulated_needs_ground_truth(tmp_path):
    "The samples mix vocabularies (no crash on that); the simulated models then need 2D ground truth, which they lack: one line."
    assert_one_line(run('labels', '--dataset', 'samples', '--simulated', '--out', tmp_path / 'l'),
                    "field 'labels' is needed by the simulated models")
    assert_one_line(run('labels', '--dataset', 'samples', '--scene', 'nope', '--simulated', '--out', tmp_path / 'l'), "no scene 'nope'")
