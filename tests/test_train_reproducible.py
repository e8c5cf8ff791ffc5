"""CNS training on CPU is reproducible: same seed => same weights and metrics, and a resumed run continues exactly.
Run with OMP_NUM_THREADS=1: MinkowskiEngine's CPU kernels are only deterministic on one OpenMP thread."""
import json
import os
import subprocess
import sys

SCRIPT = r'''
import json, sys, numpy as np, torch
from labelfree.core import SCANNET20
from labelfree.data.procedural import make_scene
from labelfree.labels import pseudo_label_scene
from labelfree.vfm.simulated import SimulatedCLIP, SimulatedSAM, SimulatedSAMFeatures
from labelfree.train.cns import CNSConfig, prepare, train_cns, evaluate_nets
from labelfree.metrics import miou
out = sys.argv[1]
scenes = [make_scene(5, i, n_views=4, width=80, height=60, points_per_m2=150) for i in range(2)]
feats = SimulatedSAMFeatures(dim=32)
train = [prepare(s, pseudo_label_scene(s, SimulatedCLIP(SCANNET20), SimulatedSAM()), [feats(s, i) for i in range(4)]) for s in scenes]
cfg = CNSConfig(backbone_2d='mobilenet_v3_large', image_size=(60, 80), voxel_size=0.2, width_3d=0.25, proj_dim=32,
                epochs_stage1=1, epochs_stage2=1, views_per_step=2, optimizer='adamw', lr_2d=1e-3, lr_3d=1e-3, device='cpu')
runs = {}
runs['a'] = train_cns(cfg, train, None, f'{out}/a', progress=False)
runs['b'] = train_cns(cfg, train, None, f'{out}/b', progress=False)
train_cns(cfg, train, None, f'{out}/c', progress=False, stop_after_epoch=1)
runs['c'] = train_cns(cfg, train, None, f'{out}/c', resume=True, progress=False)
res = {}
for k, tr in runs.items():
    conf = evaluate_nets(tr.net2, tr.net3, scenes, cfg)
    w = torch.cat([p.detach().flatten() for p in list(tr.net2.parameters()) + list(tr.net3.parameters())])
    res[k] = dict(miou2=miou(conf['2d']), miou3=miou(conf['3d']), wsum=float(w.double().sum()), wabs=float(w.double().abs().sum()))
print(json.dumps(res))
'''


def test_same_seed_same_result_and_exact_resume(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS='1')
    r = subprocess.run([sys.executable, '-c', SCRIPT, str(tmp_path)], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert res['a'] == res['b'], res        # same seed: identical weights and metrics
    assert res['a'] == res['c'], res        # stopped after epoch 1 and resumed: identical to the uninterrupted run
