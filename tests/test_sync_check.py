"`tools/check_sync.py` (the first step of `make test`) fails on an unclean notebook or a library out of sync."
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def project(tmp_path):
    for d in ('nbs', 'labelfree', 'tools'):
        shutil.copytree(ROOT / d, tmp_path / d, ignore=shutil.ignore_patterns('samples', '__pycache__', '.ipynb_checkpoints'))
    for f in ('settings.ini', 'README.md'): shutil.copy(ROOT / f, tmp_path / f)
    return tmp_path


def check(project):
    return subprocess.run([sys.executable, str(project / 'tools' / 'check_sync.py')], capture_output=True, text=True)


def test_clean_tree_passes(project):
    r = check(project)
    assert r.returncode == 0, r.stderr


def test_notebook_with_outputs_fails(project):
    nb = project / 'nbs' / '00_scene.ipynb'
    d = json.loads(nb.read_text())
    cell = next(c for c in d['cells'] if c['cell_type'] == 'code')
    cell['outputs'] = [{'output_type': 'stream', 'name': 'stdout', 'text': ['/home/someone/secret/path\n']}]
    cell['execution_count'] = 3
    nb.write_text(json.dumps(d, indent=1))
    r = check(project)
    assert r.returncode == 1 and 'nbs/00_scene.ipynb' in r.stderr


def test_unexported_change_fails(project):
    nb = project / 'nbs' / '01_geometry.ipynb'
    nb.write_text(nb.read_text().replace('return len(self.point)', 'return len(self.point) + 0'))
    r = check(project)
    assert r.returncode == 1 and 'labelfree/geometry.py' in r.stderr


def test_stale_readme_fails(project):
    (project / 'README.md').write_text('old\n')
    r = check(project)
    assert r.returncode == 1 and 'README.md is out of date' in r.stderr


def test_undefined_name_in_library_fails(project):
    mod = project / 'labelfree' / 'metrics.py'
    mod.write_text(mod.read_text() + '\ndef broken(): return json.dumps({})\n')
    r = check(project)
    assert r.returncode == 1 and 'undefined names' in r.stderr and "'json'" in r.stderr
