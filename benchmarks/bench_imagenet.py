"""ImageNet EfficientNet-Lite0: what the real weights give, written to benchmarks/results/imagenet.json.

1. `init_2d`: the demo's networks trained uncoupled (no switching, no latent loss, no stage 2) on its refined
   pseudo-labels through the shared training loop, with the 2D network (DeepLabV3 on EfficientNet-Lite0) from random
   and from ImageNet weights, same seed, steps and data; held-out 2D (and 3D) mIoU on the demo's held-out rooms,
   beside the raw and refined pseudo-labels' own.
2. `distill`: `labelfree distill --config scalr_demo --probe` with the ImageNet teacher (held-out cosine with the
   teacher, linear-probe mIoU of the distilled against a random backbone, on held-out procedural rooms), then the same
   teacher distilled on the bundled SemanticKITTI and nuScenes samples and probed there (`labelfree probe`).

Each part can be run alone (`--only init_2d` / `--only distill`); results already in the JSON are kept.
Options: --size H W (2D input, default the demo's); the step count is the demo's.
"""
import argparse
import json
import tempfile
import time
from pathlib import Path

from common import result_path, write_result

OUT = result_path('imagenet')


def init_2d(size=None, seed=0):
    "2D alone (and, from the same uncoupled run, 3D alone) on the demo's refined labels, from random and from ImageNet weights."
    from labelfree.demo import demo_models
    from labelfree.train.data import procedural_rooms, read_data_config
    from labelfree.scene import SCANNET20
    from labelfree.evaluate import pseudo_label_confusions
    from labelfree.labels import pseudo_label_scene
    from labelfree.metrics import miou
    from labelfree.evaluate import evaluate_nets
    from labelfree.train.cns import load_config, prepare, train_cns
    data = read_data_config('demo')
    # uncoupled: no switching, no latent loss, no stage 2 -- each network on the pseudo-labels alone, through the shared loop
    over = ['p_switch=0', 'lambda_latent=0', 'epochs_stage2=0', f'seed={seed}'] + ([f'image_size=[{size[0]}, {size[1]}]'] if size else [])
    cfg = load_config('demo', over)
    cfg = cfg.update(epochs_stage1=load_config('demo').epochs_stage1 + load_config('demo').epochs_stage2)   # the demo's step count
    n, nv = data.n_scenes, data.n_views
    rooms = list(procedural_rooms(data, cfg.seed))
    val = list(procedural_rooms(data, cfg.seed, held_out=True))
    clip, sam, _, _ = demo_models(SCANNET20, data.severity, cfg.seed)
    train = [prepare(s, pseudo_label_scene(s, clip, sam)) for s in rooms]
    pc = pseudo_label_confusions(val, clip, sam)
    out = dict(settings=dict(rooms=n, views=nv, held_out_rooms=len(val), image_size=list(cfg.image_size), steps=n * cfg.epochs_stage1,
                             run='train_cns with p_switch=0, lambda_latent=0, epochs_stage2=0 (demo config otherwise)',
                             labels=f'refined ({clip.name} + {sam.name})', seed=seed),
               pseudo_raw=dict(miou_2d=round(miou(pc['raw2d']), 2), miou_3d=round(miou(pc['raw3d']), 2)),
               pseudo_refined=dict(miou_2d=round(miou(pc['ref2d']), 2), miou_3d=round(miou(pc['ref3d']), 2)))
    for init in ('random', 'imagenet'):
        with tempfile.TemporaryDirectory() as d:
            t = time.perf_counter()
            tr = train_cns(cfg.update(pretrained_2d=init == 'imagenet'), train, None, d, progress=False)
            secs = time.perf_counter() - t
        c = evaluate_nets(tr.net2, tr.net3, val, cfg.image_size)
        out[init] = dict(held_out_miou_2d=round(miou(c['2d']), 2), held_out_miou_3d=round(miou(c['3d']), 2), train_seconds=round(secs, 1))
        print(f"  uncoupled, {init:8s} 2D init: held-out mIoU 2D {miou(c['2d']):5.1f}, 3D {miou(c['3d']):5.1f} "
              f"({out['settings']['steps']} steps at {cfg.image_size[0]}x{cfg.image_size[1]}, {secs:.0f} s)")
    print(f"  pseudo-labels on the same rooms: raw 2D {out['pseudo_raw']['miou_2d']:.1f} 3D {out['pseudo_raw']['miou_3d']:.1f}, "
          f"refined 2D {out['pseudo_refined']['miou_2d']:.1f} 3D {out['pseudo_refined']['miou_3d']:.1f}")
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
    a = ap.parse_args()
    print(__doc__.strip().splitlines()[0])
    if a.only in (None, 'init_2d'):
        key = 'init_2d' if not a.size else f'init_2d_{a.size[0]}x{a.size[1]}'
        write_result(OUT, key, init_2d(a.size))
    if a.only in (None, 'distill'): write_result(OUT, 'distill', distill())
    print(f'  written to {OUT}')
