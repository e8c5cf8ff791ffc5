"""Two CPU processes launched by torchrun (gloo backend) train CNS together and end with the same weights."""
import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = r'''
import json, sys, torch
from labelfree.core import SCANNET20
from labelfree.data.procedural import make_scene
from labelfree.labels import pseudo_label_scene
from labelfree.vfm.simulated import SimulatedCLIP, SimulatedSAM, SimulatedSAMFeatures
from labelfree.train.cns import CNSConfig, init_distributed, prepare, train_cns
rank, world = init_distributed()
out = sys.argv[1]
scenes = [make_scene(5, i, n_views=4, width=80, height=60, points_per_m2=150) for i in range(3)]
feats = SimulatedSAMFeatures(dim=32)
train = [prepare(s, pseudo_label_scene(s, SimulatedCLIP(SCANNET20), SimulatedSAM()), [feats(s, i) for i in range(4)]) for s in scenes]
cfg = CNSConfig(backbone_2d='mobilenet_v3_large', image_size=(60, 80), voxel_size=0.2, width_3d=0.25, proj_dim=32,
                epochs_stage1=1, epochs_stage2=1, views_per_step=2, optimizer='adamw', lr_2d=1e-3, lr_3d=1e-3, device='cpu')
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
