"The installed `labelfree` command works end to end."
import json
import shutil
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def test_samples_lists_every_sample():
    out = subprocess.run([str(BIN / 'labelfree'), 'samples'], capture_output=True, text=True, check=True).stdout
    for name in ('nuscenes-mini', 'semantickitti', 'kitti', 'icl-nuim', 'tum'):
        assert name in out


def test_demo_writes_report(tmp_path):
    r = subprocess.run([str(BIN / 'labelfree'), 'demo', '--out', str(tmp_path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert 'geometry stage' in r.stdout          # the demo says which stages it ran
    rep = json.loads((tmp_path / 'report.json').read_text())
    assert rep['samples']['nuscenes-mini']['visible_per_view']['CAM_BACK'] == 4826
    assert rep['samples']['kitti']['points_seen'] == rep['samples']['kitti']['points']
    assert (tmp_path / 'nuscenes_overlay.png').stat().st_size > 10_000


def test_unknown_command_fails():
    r = subprocess.run([str(BIN / 'labelfree'), 'frobnicate'], capture_output=True, text=True)
    assert r.returncode == 2 and 'invalid choice' in r.stderr
