"""CNS: training-step overhead, the ablation table, and the demo's wall time and memory.

1. One CNS step (both networks, prediction consistency, latent loss) against a bare MinkUNet34 step plus a bare
   DeepLabV3 step on the same scene and views (target ratio <= 1.15), median of repeated steps.
2. The ablation on held-out procedural scenes with the simulated models (demo config): raw pseudo-labels, refined,
   3D alone on refined labels (no switching, no latent loss), co-training without latent loss, full stage 1, stage 2.
3. `labelfree demo` wall time and peak memory (targets: <= 5 min, <= 4 GB).
Pass --skip-ablation or --skip-demo to leave out the long parts.
"""
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F


def step_ratio(repeats: int = 10):
    from labelfree.core import SCANNET20
    from labelfree.data.procedural import ProceduralScenes
    from labelfree.labels import pseudo_label_scene
    from labelfree.models.minkunet import sparse_batch
    from labelfree.train.cns import CNSTrainer, _images, load_config, point_inputs, prepare
    from labelfree.cli import demo_models
    from labelfree.vfm.simulated import SimulatedCLIP, SimulatedSAM
    feats = demo_models(SCANNET20)[2]                   # the demo's latent target (the ImageNet teacher without SAM weights)
    cfg = load_config('demo', ['warmup_epochs=0', 'p_switch=0.5', 'augment=false', f'proj_dim={feats.dim}'])   # same input for both: no random rotation
    s = ProceduralScenes()[0]
    pl = pseudo_label_scene(s, SimulatedCLIP(SCANNET20), SimulatedSAM(), feats)
    ts = prepare(s, pl, pl.features)
    tr = CNSTrainer(cfg, 20, point_inputs(s).shape[1])
    views = [0, 5, 10, 15]
    rng = np.random.default_rng(0)
    def cns(): tr.step(ts, views, rng)
    def bare():
        tr.net2.train(); tr.net3.train()
        x = _images(s, views, tuple(cfg.image_size))
        y2 = F.interpolate(torch.from_numpy(np.stack([pl.labels2d[v] for v in views]).astype(np.float32))[:, None], size=cfg.image_size, mode='nearest')[:, 0].long()
        l2 = F.cross_entropy(tr.net2.net((x - tr.net2.mean) / tr.net2.std)['out'], y2, ignore_index=255)      # torchvision's own forward, no heads
        b = sparse_batch([s.points.xyz], [point_inputs(s)], cfg.voxel_size)
        ME = tr.net3.unet.ME
        logits, _ = tr.net3.unet(ME.SparseTensor(b.feats, coordinates=b.coords))
        l3 = F.cross_entropy(logits.F[b.inverse], torch.from_numpy(pl.labels3d.astype(np.int64)), ignore_index=255)
        tr.opt.zero_grad(); (l2 + l3).backward(); tr.opt.step()
    times = {'cns': [], 'bare': []}
    cns(); bare()                                        # warm-up
    for _ in range(repeats):                             # interleaved, so background load hits both alike
        for name, f in (('cns', cns), ('bare', bare)):
            t = time.perf_counter(); f(); times[name].append(time.perf_counter() - t)
    res = {k: statistics.median(v) for k, v in times.items()}
    print(f"  (median of {repeats} interleaved steps each)")
    print(f"  CNS step {res['cns']:.3f} s vs bare MinkUNet34 + DeepLabV3 step {res['bare']:.3f} s: ratio {res['cns'] / res['bare']:.2f} "
          f"(target <= 1.15: {'met' if res['cns'] / res['bare'] <= 1.15 else 'NOT met'}); demo config, 4 views, {len(s.points):,} points")


def ablation():
    from labelfree.core import SCANNET20
    from labelfree.data.procedural import ProceduralScenes
    from labelfree.labels import pseudo_label_confusions, pseudo_label_scene
    from labelfree.metrics import miou
    from labelfree.train.cns import evaluate_nets, load_checkpoint, load_config, prepare, train_cns
    from labelfree.cli import config_data, demo_models
    data = config_data('demo')
    clip, sam, feats, _ = demo_models(SCANNET20, data.get('severity', 0.5))       # the demo's own models
    cfg = load_config('demo', [f'proj_dim={feats.dim}'])          # the demo's own scenes: same rooms, views and held-out set
    nv = data.get('n_views', 20)
    train_scenes = list(ProceduralScenes(n_scenes=data.get('n_scenes', 8), seed=cfg.seed, n_views=nv))
    val = list(ProceduralScenes(n_scenes=data.get('n_val', 4), seed=data.get('val_seed', cfg.seed + 1), n_views=nv))
    train = []
    for s in train_scenes:
        pl = pseudo_label_scene(s, clip, sam, feats); train.append(prepare(s, pl, pl.features))
    pc = pseudo_label_confusions(val, clip, sam)
    rows = [('raw pseudo-labels', miou(pc['raw2d']), miou(pc['raw3d'])), ('SAM-refined pseudo-labels', miou(pc['ref2d']), miou(pc['ref3d']))]
    runs = [('3D alone on refined labels (2D trained beside it, no coupling)', dict(p_switch=0.0, lambda_latent=0.0, epochs_stage2=0)),
            ('co-training without latent loss (stage 1)', dict(lambda_latent=0.0, epochs_stage2=0)),
            ('full CNS', {})]
    with tempfile.TemporaryDirectory() as d:
        for name, over in runs:
            t = time.perf_counter()
            tr = train_cns(cfg.update(**over), train, None, Path(d) / name[:8].replace(' ', '_'), progress=False)
            if name == 'full CNS':
                s1 = load_checkpoint(Path(d) / name[:8].replace(' ', '_') / 'stage1.pt', 'cpu')
                c1 = evaluate_nets(s1.net2, s1.net3, val, cfg)
                rows.append(('full CNS stage 1', miou(c1['2d']), miou(c1['3d'])))
                name = 'CNS stage 2'
            c = evaluate_nets(tr.net2, tr.net3, val, cfg)
            rows.append((name + f' [{time.perf_counter() - t:.0f} s]', miou(c['2d']), miou(c['3d'])))
    print(f"  {f'held-out mIoU (%), {len(val)} scenes x {nv} views':68s} {'2D':>6s} {'3D':>6s}")
    for name, a, b in rows: print(f'  {name:68s} {a:6.1f} {b:6.1f}')


def demo_time():
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        r = subprocess.run([str(Path(sys.executable).parent / 'labelfree'), 'demo', '--out', d], capture_output=True, text=True)
        wall = time.perf_counter() - t
        if r.returncode: print(r.stderr[-2000:]); return
        rep = json.loads((Path(d) / 'report.json').read_text())
    print(f"  labelfree demo: {wall:.0f} s wall (target <= 300: {'met' if wall <= 300 else 'NOT met'}), peak RSS {rep['peak_rss_mb']:.0f} MB "
          f"(target <= 4096: {'met' if rep['peak_rss_mb'] <= 4096 else 'NOT met'}); stage-2 3D gain over raw pseudo-labels "
          f"{rep['gain_3d_stage2_over_raw']:+.1f} points")


if __name__ == '__main__':
    print(__doc__.strip().splitlines()[0])
    step_ratio()
    if '--skip-ablation' not in sys.argv: ablation()
    if '--skip-demo' not in sys.argv: demo_time()
