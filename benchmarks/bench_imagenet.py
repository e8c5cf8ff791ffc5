"""ImageNet EfficientNet-Lite0: what the real weights give, written to benchmarks/results/imagenet.json.

1. `init_2d`: the 2D network (DeepLabV3 on EfficientNet-Lite0) alone on the demo's refined pseudo-labels, random
   against ImageNet initialisation, same seed, steps and data; held-out 2D mIoU on the demo's held-out rooms, beside
   the raw and refined pseudo-labels' own 2D mIoU.
2. `distill`: `labelfree distill --config scalr_demo --probe` with the ImageNet teacher (held-out cosine with the
   teacher, linear-probe mIoU of the distilled against a random backbone, on held-out procedural rooms), then the same
   teacher distilled on the bundled SemanticKITTI and nuScenes samples and probed there (`labelfree probe`).

Each part can be run alone (`--only init_2d` / `--only distill`); results already in the JSON are kept.
Options: --size H W (2D input, default the demo's), --steps N (2D steps, default the demo's CNS step count).
"""
import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

OUT = Path(__file__).resolve().parent / 'results' / 'imagenet.json'


def _write(part: str, result: dict):
    from labelfree.data.io import atomic_path
    res = json.loads(OUT.read_text()) if OUT.exists() else {}
    res[part] = result
    OUT.parent.mkdir(exist_ok=True)
    with atomic_path(OUT) as tmp: Path(tmp).write_text(json.dumps(res, indent=1) + '\n')


def init_2d(size=None, steps=None, seed=0):
    from labelfree.cli import config_data
    from labelfree.core import IGNORE_INDEX, SCANNET20
    from labelfree.data.procedural import ProceduralScenes
    from labelfree.labels import pseudo_label_confusions, pseudo_label_scene
    from labelfree.metrics import confusion, miou
    from labelfree.models.deeplab import DeepLab2D
    from labelfree.train.cns import _images, _resize_labels, class_weights, load_config
    from labelfree.vfm.simulated import SimulatedCLIP, SimulatedSAM
    cfg, data = load_config('demo'), config_data('demo')
    size = tuple(size or cfg.image_size)
    n, nv = data['n_scenes'], data['n_views']
    steps = steps or n * (cfg.epochs_stage1 + cfg.epochs_stage2)
    rooms = list(ProceduralScenes(n_scenes=n, seed=cfg.seed, n_views=nv))
    val = list(ProceduralScenes(n_scenes=data['n_val'], seed=data['val_seed'], n_views=nv))
    clip, sam = SimulatedCLIP(SCANNET20, severity=data['severity'], seed=cfg.seed), SimulatedSAM(seed=cfg.seed)
    labels = [pseudo_label_scene(s, clip, sam).labels2d for s in rooms]
    pc = pseudo_label_confusions(val, clip, sam)
    w = class_weights([m for ls in labels for m in ls], len(SCANNET20), cfg.class_balance) if cfg.class_balance > 0 else None
    out = dict(settings=dict(rooms=n, views=nv, held_out_rooms=len(val), image_size=list(size), steps=steps,
                             views_per_step=cfg.views_per_step, optimizer='adamw', lr=cfg.lr_2d, schedule='cosine',
                             class_balance=cfg.class_balance, labels='refined (simulated CLIP + simulated SAM)', seed=seed),
               pseudo_raw_2d=round(miou(pc['raw2d']), 2), pseudo_refined_2d=round(miou(pc['ref2d']), 2))
    for init in ('random', 'imagenet'):
        torch.manual_seed(seed)
        net = DeepLab2D(len(SCANNET20), 'efficientnet_lite0', proj_dim=None, pretrained=init == 'imagenet')
        opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr_2d, weight_decay=cfg.weight_decay)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
        rng = np.random.default_rng(seed)
        t = time.perf_counter()
        net.train()
        for k in range(steps):
            if k % n == 0: order = rng.permutation(n)
            s = order[k % n]
            views = sorted(rng.choice(nv, cfg.views_per_step, replace=False).tolist())
            x, y = _images(rooms[s], views, size), _resize_labels([labels[s][v] for v in views], size)
            loss = F.cross_entropy(net(x)['logits'], y, weight=w, ignore_index=IGNORE_INDEX)
            opt.zero_grad(set_to_none=True); loss.backward(); opt.step(); sched.step()
        train_s = time.perf_counter() - t
        net.eval()
        conf = np.zeros((len(SCANNET20), len(SCANNET20) + 1), np.int64)
        with torch.no_grad():
            for sc in val:
                for v in range(len(sc.views)):
                    lg = net(_images(sc, [v], size))['logits']
                    pred = F.interpolate(lg, size=sc.views[v].hw, mode='bilinear', align_corners=False)[0].argmax(0).numpy()
                    conf += confusion(sc.views[v].labels, pred, len(SCANNET20))
        out[init] = dict(held_out_miou_2d=round(miou(conf), 2), train_seconds=round(train_s, 1))
        print(f"  2D alone, {init:8s} init: held-out 2D mIoU {miou(conf):5.1f} ({steps} steps at {size[0]}x{size[1]}, {train_s:.0f} s)")
    print(f"  pseudo-labels on the same views: raw {out['pseudo_raw_2d']:.1f}, refined {out['pseudo_refined_2d']:.1f}")
    return out


def distill():
    from labelfree.cli import main
    res = {}
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        main(['distill', '--config', 'scalr_demo', '--probe', '--out', f'{d}/rooms', '--quiet'])
        log = [json.loads(l) for l in Path(f'{d}/rooms/log.jsonl').read_text().splitlines()]
        rep = json.loads(Path(f'{d}/rooms/probe/report.json').read_text())
        res['procedural'] = dict(config='scalr_demo', teacher=rep['teacher'], held_out_cosine=round(log[-1]['val_cosine'], 3),
                                 probe_miou=dict(distilled=round(rep['miou']['distilled'], 2), random=round(rep['miou']['random'], 2)),
                                 seconds=round(time.perf_counter() - t, 1))
        # the real samples: distil the same teacher on both (their cameras, their lidar), then probe each
        t = time.perf_counter()
        main(['distill', '--config', 'scalr_demo', 'data.dataset=samples', 'data.scenes=[semantickitti, nuscenes-mini]',
              'epochs=24', 'views_per_scene=null', 'eval_every=100', '--out', f'{d}/samples', '--quiet'])
        for name in ('semantickitti', 'nuscenes-mini'):
            main(['probe', '--checkpoint', f'{d}/samples/checkpoint.pt', '--dataset', 'samples', '--scene', name,
                  '--random-baseline', '--config', 'scalr_demo', '--out', f'{d}/probe-{name}'])
            rep = json.loads(Path(f'{d}/probe-{name}/report.json').read_text())
            res[name] = dict(teacher=rep['teacher'], probe_miou=dict(distilled=round(rep['miou']['distilled'], 2), random=round(rep['miou']['random'], 2)),
                             eval_points=rep['points']['distilled']['eval'])
        res['samples_seconds'] = round(time.perf_counter() - t, 1)
    for k, v in res.items():
        if isinstance(v, dict): print(f'  {k}: {v}')
    return res


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument('--only', choices=['init_2d', 'distill'])
    ap.add_argument('--size', type=int, nargs=2)
    ap.add_argument('--steps', type=int)
    a = ap.parse_args()
    print(__doc__.strip().splitlines()[0])
    if a.only in (None, 'init_2d'):
        key = 'init_2d' if not a.size else f'init_2d_{a.size[0]}x{a.size[1]}'
        _write(key, init_2d(a.size, a.steps))
    if a.only in (None, 'distill'): _write('distill', distill())
    print(f'  written to {OUT}')
