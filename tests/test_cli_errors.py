"Bad input through the `labelfree` command as a user runs it: one line on stderr naming what is wrong, exit status 2, no traceback."
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

BIN = Path(sys.executable).parent


def run(*args, env=None):
    import os
    return subprocess.run([str(BIN / 'labelfree'), *map(str, args)], capture_output=True, text=True,
                          env=dict(os.environ, **(env or {})), timeout=600)


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
    assert_one_line(run('probe', '--checkpoint', tmp_path / 'ck.pt', '--dataset', 'samples', '--scene', 'nope'), 'nope')


def test_unexpected_error_says_bug(tmp_path):
    "A failure that is not bad input keeps its traceback and says it is a bug (here: a broken import inside a command)."
    code = ("import labelfree.cli as c, sys\n"
            "def boom(a): raise RuntimeError('boom')\n"
            "c.labels_command = boom\n"
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
