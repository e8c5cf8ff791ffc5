"""What labelfree must show on a GPU, measured in one run and written as JSON (`OUT/gpu_check.json`):

1. `stack`: torch, its CUDA, the GPU, MinkowskiEngine and whether it was built with CUDA.
2. `forward`: one MinkUNet34 forward on the same room and weights on the CPU and on the device; the largest logit
   difference, against a tolerance of 1e-3 of the logits' scale (float32 sums in another order, cuBLAS against BLAS).
3. `step`: one CNS step (the demo's losses: cross-entropies, latent cosines, switching) from the same weights, data
   and draws on the CPU and on the device; each loss term's relative difference, against 1e-3.
4. `ddp`: a one-process `torchrun` (NCCL on a GPU, gloo on the CPU) training the 3D network inside
   DistributedDataParallel for two steps.
5. `bench_step` and `demo` (not in a dry run): `benchmarks/bench_cns.py --only step --device DEVICE` and
   `labelfree demo --config demo_gpu`, their figures and the wall time.
A dry run (`--dry-run`, on the CPU) runs 1–4 at a tiny scale with the CPU as the "device", so the script is tested
wherever the package is. Each part records its own error instead of stopping the others.
"""
import argparse
import json
import os
import subprocess
import sys
import time
import traceback
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent


def stack() -> dict:
    from labelfree.geometry import import_minkowski
    ME = import_minkowski()
    return dict(torch=torch.__version__, torch_cuda=torch.version.cuda, python=sys.version.split()[0],
                gpu=torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
                minkowski=ME.__version__, minkowski_cuda=bool(ME.is_cuda_available()))


def room(small: bool):
    "A training scene: a tiny simulated-label room (dry run), or one demo-scale room with the demo's models."
    from labelfree.train.cns import prepare
    if small:
        from labelfree.test_utils import tiny_labelled
        return prepare(*tiny_labelled(1)[0])
    from labelfree.scene import SCANNET20
    from labelfree.data.procedural import ProceduralScenes
    from labelfree.labels import pseudo_label_scene
    from labelfree.demo import demo_models
    clip, sam, feats, _ = demo_models(SCANNET20, device='cpu')
    s = ProceduralScenes(n_scenes=1)[0]
    pl = pseudo_label_scene(s, clip, sam, feats)
    return prepare(s, pl, pl.features)


def config(small: bool, ts, device: str):
    from labelfree.test_utils import TINY_CNS
    from labelfree.train.cns import CNSConfig, load_config
    over = dict(warmup_epochs=0, p_switch=1.0, augment=False, device=device, proj_dim=ts.features[0].shape[0])
    return CNSConfig(**{**TINY_CNS, **over}) if small else load_config('demo_gpu').update(**over)


def forward(ts, cfg, device: str) -> dict:
    from labelfree.models.minkunet import Net3D, point_inputs, sparse_batch
    torch.manual_seed(0)
    net = Net3D(point_inputs(ts.scene).shape[1], len(ts.scene.vocab), cfg.voxel_size, width=cfg.width_3d).eval()
    b = sparse_batch([ts.scene.points.xyz], [point_inputs(ts.scene)], cfg.voxel_size)
    with torch.no_grad():
        cpu = net(b)['logits']
        dev = net.to(device)(b)['logits'].cpu()
    d, scale = float((cpu - dev).abs().max()), float(cpu.abs().max())
    return dict(points=len(b.inverse), voxels=len(b.coords), max_abs_diff=d, logit_scale=scale, tolerance=1e-3 * scale,
                ok=d <= 1e-3 * scale)


def step(ts, cfg, device: str) -> dict:
    from labelfree.train.cns import CNSTrainer
    from labelfree.models.minkunet import point_inputs
    out = {}
    for key, dev in (('cpu', 'cpu'), ('device', device)):
        tr = CNSTrainer(cfg.update(device=dev), len(ts.scene.vocab), point_inputs(ts.scene).shape[1])   # seeded: same weights
        views = list(range(min(cfg.views_per_step, len(ts.scene.views))))
        out[key] = tr.step(ts, views, np.random.default_rng(0))
    cpu, other = out['cpu'], out['device']
    rel = {k: abs(cpu[k] - other[k]) / max(abs(cpu[k]), 1e-6) for k in cpu if k.startswith(('ce_', 'latent_', 'total'))}
    return dict(cpu=cpu, device=other, rel_diff=rel, tolerance=1e-3, ok=all(v <= 1e-3 for v in rel.values()))


DDP_WORKER = r'''
import json, sys, torch, numpy as np
from torch.nn.parallel import DistributedDataParallel as DDP
from labelfree.models.minkunet import Net3D, sparse_batch
dev = sys.argv[1]
backend = 'nccl' if dev.startswith('cuda') else 'gloo'
torch.distributed.init_process_group(backend)
if backend == 'nccl': torch.cuda.set_device(0)
torch.manual_seed(0)
net = Net3D(3, 20, 0.1, proj_dim=None, width=0.25).to(dev)
model = DDP(net, device_ids=[0] if backend == 'nccl' else None)
opt = torch.optim.AdamW(model.parameters(), 1e-3)
rng = np.random.default_rng(0)
xyz = rng.uniform(0, 4, (20000, 3)); y = torch.from_numpy(rng.integers(0, 20, len(xyz))).to(dev)
losses = []
for _ in range(2):
    o = model(sparse_batch([xyz], [rng.uniform(-.5, .5, (len(xyz), 3))], 0.1))
    loss = torch.nn.functional.cross_entropy(o['logits'], y)
    opt.zero_grad(); loss.backward(); opt.step(); losses.append(float(loss))
print(json.dumps(dict(backend=backend, world=torch.distributed.get_world_size(), losses=losses)))
torch.distributed.destroy_process_group()
'''


def ddp(device: str) -> dict:
    torchrun = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '1', '--master_port', '29533']
    r = subprocess.run([*torchrun, str(Path(__file__).resolve()), '--ddp-worker', device], capture_output=True, text=True, timeout=300)
    if r.returncode: return dict(ok=False, error=r.stderr[-2000:])
    res = json.loads(r.stdout.strip().splitlines()[-1])
    return dict(res, ok=all(np.isfinite(res['losses'])))


def run(cmd: list, timeout: int) -> tuple[float, subprocess.CompletedProcess]:
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    return round(time.perf_counter() - t, 1), r


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--out', type=Path, default=ROOT / 'out' / 'gpu_check')
    ap.add_argument('--device', default='cuda')
    ap.add_argument('--dry-run', action='store_true', help='on the CPU, tiny: checks the script itself')
    ap.add_argument('--ddp-worker', metavar='DEVICE', help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.ddp_worker: exec(DDP_WORKER.replace('sys.argv[1]', repr(a.ddp_worker))); return
    device = 'cpu' if a.dry_run else a.device
    a.out.mkdir(parents=True, exist_ok=True)
    res = dict(dry_run=a.dry_run, device=device)
    def part(name, f):
        t = time.perf_counter()
        try: res[name] = f()
        except Exception: res[name] = dict(ok=False, error=traceback.format_exc()[-3000:])
        res[name]['seconds'] = round(time.perf_counter() - t, 1) if isinstance(res[name], dict) else None
        print(f"{name}: {json.dumps(res[name])[:600]}", flush=True)
        (a.out / 'gpu_check.json').write_text(json.dumps(res, indent=1))
    part('stack', stack)
    ts = room(a.dry_run)
    cfg = config(a.dry_run, ts, device)
    part('forward', lambda: forward(ts, cfg, device))
    part('step', lambda: step(ts, cfg, device))
    part('ddp', lambda: ddp(device))
    if not a.dry_run:
        def bench():
            s, r = run([sys.executable, 'benchmarks/bench_cns.py', '--only', 'step', '--device', device], 600)
            out = json.loads((ROOT / 'benchmarks' / 'results' / 'cns.json').read_text()).get(f'step_{device.split(":")[0]}') if not r.returncode else None
            return dict(ok=r.returncode == 0 and out is not None, wall_s=s, result=out, tail=(r.stdout + r.stderr)[-1500:])
        def demo():
            s, r = run([sys.executable, '-c', 'import sys; from labelfree.cli import main; sys.exit(main())', 'demo', '--config', 'demo_gpu', '--out', str(a.out / 'demo')], 480)
            rep = a.out / 'demo' / 'report.json'
            rep = json.loads(rep.read_text()) if rep.exists() else {}
            keep = ('miou', 'gains', 'claims', 'timings_s', 'peak_rss_mb', 'machine', 'per_class')
            return dict(ok=r.returncode == 0, wall_s=s, **{k: rep[k] for k in keep if k in rep}, tail=(r.stdout + r.stderr)[-1500:])
        part('bench_step', bench)
        part('demo', demo)
    res['ok'] = all(v.get('ok', True) for v in res.values() if isinstance(v, dict))
    (a.out / 'gpu_check.json').write_text(json.dumps(res, indent=1))
    print('gpu check:', 'all ok' if res['ok'] else 'FAILED: ' + ', '.join(k for k, v in res.items() if isinstance(v, dict) and not v.get('ok', True)))
    sys.exit(0 if res['ok'] else 1)


if __name__ == '__main__':
    main()
