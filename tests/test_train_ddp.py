"""Two CPU processes launched by torchrun (gloo backend) train CNS together and end with the same weights."""
import json
import os
import subprocess
import sys

from pathlib import Path

import pytest
from script_setup import setup_lines

pytestmark = pytest.mark.slow          # minutes: `make test-all` and CI run it, `make test` skips it (README, "Developing")

SCRIPT = setup_lines('from labelfree.test_utils import TINY_CNS, tiny_labelled',
                     'from labelfree.train.cns import CNSConfig, prepare, train_cns',
                     'from labelfree.train.setup import init_distributed') + r'''
cfg, train = CNSConfig(**TINY_CNS), [prepare(*x) for x in tiny_labelled(3)]
rank, world = init_distributed()
out = sys.argv[1]
tr = train_cns(cfg, train, None, out, progress=False)
params = torch.cat([p.detach().flatten() for p in list(tr.net2.parameters()) + list(tr.net3.parameters())]).double()
with open(f'{out}/rank{rank}.json', 'w') as f:
    json.dump(dict(world=world, sum=float(params.sum()), abs=float(params.abs().sum()), epoch=tr.epoch), f)
'''


def test_two_gloo_processes_agree(tmp_path):
    script = tmp_path / 'ddp.py'
    script.write_text(SCRIPT)
    torchrun = Path(sys.executable).parent / 'torchrun'
    r = subprocess.run([str(torchrun), '--standalone', '--nproc_per_node=2', str(script), str(tmp_path)],
                       capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS='1'), timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    a, b = (json.loads((tmp_path / f'rank{i}.json').read_text()) for i in (0, 1))
    assert a['world'] == b['world'] == 2 and a['epoch'] == b['epoch'] == 2
    assert a['sum'] == b['sum'] and a['abs'] == b['abs']       # averaged gradients: identical parameters on both ranks
    assert (tmp_path / 'checkpoint.pt').exists() and len((tmp_path / 'log.jsonl').read_text().splitlines()) == 2
