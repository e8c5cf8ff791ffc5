"""CNS training on CPU is reproducible: same seed => same weights and metrics, and a resumed run continues exactly,
on two threads (`labelfree.models.minkunet.deterministic_maps`: MinkowskiEngine's kernel maps are built on one)."""
import json
import os
import subprocess
import sys

import pytest
from script_setup import setup_lines

pytestmark = pytest.mark.slow          # minutes: `make test-all` and CI run it, `make test` skips it (README, "Developing")

SCRIPT = setup_lines('from labelfree.evaluate import evaluate_nets', 'from labelfree.metrics import miou',
                     'from labelfree.test_utils import TINY_CNS, tiny_labelled',
                     'from labelfree.train.cns import CNSConfig, prepare, train_cns') + r'''
labelled = tiny_labelled(2)
scenes, train, cfg = [s for s, _, _ in labelled], [prepare(*x) for x in labelled], CNSConfig(**TINY_CNS)
out = sys.argv[1]
runs = {}
runs['a'] = train_cns(cfg, train, None, f'{out}/a', progress=False)
runs['b'] = train_cns(cfg, train, None, f'{out}/b', progress=False)
train_cns(cfg, train, None, f'{out}/c', progress=False, stop_after_epoch=1)
runs['c'] = train_cns(cfg, train, None, f'{out}/c', resume=True, progress=False)
res = {}
for k, tr in runs.items():
    conf = evaluate_nets(tr.net2, tr.net3, scenes, cfg.image_size)
    w = torch.cat([p.detach().flatten() for p in list(tr.net2.parameters()) + list(tr.net3.parameters())])
    res[k] = dict(miou2=miou(conf['2d']), miou3=miou(conf['3d']), wsum=float(w.double().sum()), wabs=float(w.double().abs().sum()))
print(json.dumps(res))
'''


def test_same_seed_same_result_and_exact_resume(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS='2')
    r = subprocess.run([sys.executable, '-c', SCRIPT, str(tmp_path)], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert res['a'] == res['b'], res        # same seed: identical weights and metrics
    assert res['a'] == res['c'], res        # stopped after epoch 1 and resumed: identical to the uninterrupted run
