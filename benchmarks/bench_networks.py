"""One network alone on the demo's pseudo-labels: how far each gets in a given number of steps, and at what cost a step.

The CNS demo's budget (15 minutes on 2 CPU cores) is spent in steps, so the question behind its configuration is how
many steps each network needs to pass its pseudo-labels, and what a step costs at each input size. This trains the
2D network (DeepLabV3 on EfficientNet-Lite0, on the refined 2D pseudo-labels) or the 3D network (MinkUNet34, on the
refined 3D pseudo-labels) alone, on the demo's rooms and pseudo-labels (cached by `bench_cns.Setting`), with the
demo's optimiser, class balance and one-cycle schedule over `--steps`, and prints one JSON line per evaluation:
held-out mIoU (the demo's held-out rooms) and mIoU on the first 8 training rooms, each with its per-class IoU, and
seconds per step.
`--labels gt` trains on the ground truth instead: the ceiling that the images (or points), the network and the
steps allow, against which the pseudo-labels' cost can be read. `--labels fused` trains on the late fusion
(`labelfree.evaluate.fuse_scene`) of the demo config's stage-1 networks, trained with `--seed` on these rooms (bench_cns's
cached stage 1, trained first if missing): labels that both co-trained networks agree on, as good as CNS's stage 1
makes them (their mIoU on the training rooms is recorded as `labels_train`); with `--soft` the 2D network learns the
fusion's probabilities themselves, not their arg-max (knowledge distillation's soft targets). `--augment` mirrors, rescales and colour-jitters the
2D network's input (`labelfree.models.deeplab.augmented_forward`).

    python benchmarks/bench_networks.py --net 2d --size 240 320 --steps 400 --evals 200 400
    python benchmarks/bench_networks.py --net 2d --size 240 320 --steps 300 --labels gt
    python benchmarks/bench_networks.py --net 3d --steps 384 --lr 1e-3
    python benchmarks/bench_networks.py --net 3d --steps 624 --labels gt --norm-3d instance
    python benchmarks/bench_networks.py --net 2d --size 240 320 --freeze-stages 3 --ema 0.995 --data n_scenes=96 n_views=4 val_views=8

`--ema DECAY` also scores a moving average of the weights (timm's ModelEmaV3) from the same run (records `ema_*`).
Each record names, per class, what its points or pixels are most often taken for (`*_taken_for`).
`--out FILE` appends the lines to FILE (JSON lines) as well.
"""
import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def parser() -> argparse.ArgumentParser:
    "This bench's options."
    from labelfree.models.minkunet import NORMS_3D
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--net', choices=['2d', '3d'], default='3d')
    ap.add_argument('--steps', type=int, default=400)
    ap.add_argument('--evals', type=int, nargs='+', help='steps after which to evaluate (default: the last)')
    ap.add_argument('--lr', type=float, help='peak learning rate (default: the demo config\'s lr_2d or lr_3d)')
    ap.add_argument('--class-balance', type=float, default=0.5)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--size', type=int, nargs=2, default=[120, 160], metavar=('H', 'W'), help='2D input size')
    ap.add_argument('--views', type=int, default=4, help='2D: views per step')
    ap.add_argument('--augment', action='store_true', help='2D: mirror, rescale and colour-jitter its input (augmented_forward)')
    ap.add_argument('--output-stride', type=int, default=16, choices=[8, 16, 32], help='2D: the backbone\'s output stride')
    ap.add_argument('--freeze-stages', type=int, default=0, help="2D: the backbone's stem and first stages that keep their ImageNet weights (DeepLab2D's freeze_stages)")
    ap.add_argument('--voxel-size', type=float, default=0.1); ap.add_argument('--width', type=float, default=0.5)
    ap.add_argument('--norm-3d', default='batch', choices=NORMS_3D,
                    help="3D: the U-Net's normalisation (MinkUNet34's norm): batch (running averages in evaluation) or instance (each room by its own statistics)")
    ap.add_argument('--labels', choices=['refined', 'raw', 'gt', 'fused'], default='refined',
                    help="what the network learns from: the refined or raw pseudo-labels, the ground truth (the ceiling the images and "
                         "points allow), or the late fusion of the demo config's stage-1 networks (trained with --seed)")
    ap.add_argument('--soft', action='store_true',
                    help="2D, with --labels fused: learn the fusion's probabilities (soft targets, as knowledge distillation) instead of their arg-max")
    ap.add_argument('--ema', type=float, default=0.0,
                    help='2D: also score an exponential moving average of the weights with this decay (timm ModelEmaV3), beside the weights themselves')
    ap.add_argument('--data', nargs='+', default=[], metavar='KEY=VALUE',
                    help="other rooms to train on: the demo config's data section overridden (e.g. n_scenes=96 n_views=4 val_views=8)")
    ap.add_argument('--rooms-seed', type=int, help="the rooms' seed, as the demo's seed=N (default: the demo config's); held-out rooms follow it")
    ap.add_argument('--out', type=Path)
    return ap


def main(argv=None) -> dict:
    "Train one network alone as the arguments say; the last evaluation's record."
    a = parser().parse_args(argv)
    if a.soft and (a.net, a.labels) != ('2d', 'fused'): raise SystemExit('--soft: the 2D network on --labels fused only')
    if a.ema > 0 and a.net == '3d': raise SystemExit('--ema: the 2D network only (MinkowskiEngine modules do not survive the copy ModelEmaV3 makes)')
    from bench_cns import Setting
    from labelfree.scene import IGNORE_INDEX
    from labelfree.metrics import confusion, iou, miou
    from labelfree.models.minkunet import single_blas_thread
    from labelfree.train.cns import class_weights, load_config
    from labelfree.demo import machine_info
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    from labelfree.train.setup import parse_overrides
    S = Setting(data_over=parse_overrides(a.data) if a.data else None, seed=a.rooms_seed)
    C, cfg = len(S.rooms.vocab), load_config('demo')
    evals = set(a.evals or [a.steps])
    with torch.random.fork_rng(devices=[]):     # loading the stage-1 networks re-seeds torch: the network trained here
        fused, fused_miou = stage1_fusion(S, a.seed, a.soft) if a.labels == 'fused' else (None, None)  # starts as it does on other labels
    y = {id(ts): targets(ts, a.labels, a.net, C, fused) for ts in S.train}
    if a.net == '2d': net, groups, batch, predict = _net2d(a, C, cfg, y, {k: v[2] for k, v in fused.items()} if a.soft else None)
    else: net, groups, batch, predict = _net3d(a, C, cfg, y)
    opt = torch.optim.AdamW(groups, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[g['lr'] for g in groups], total_steps=a.steps, pct_start=0.1,
                                                cycle_momentum=False)
    labels = [m for ts in S.train for m in (y[id(ts)] if a.net == '2d' else [y[id(ts)]])]
    w = class_weights(labels, C, a.class_balance) if a.class_balance > 0 else None
    ema = None
    if a.ema > 0:
        from timm.utils import ModelEmaV3
        ema = ModelEmaV3(net, decay=a.ema)

    def confusions(scenes, m):
        m.eval(); cm = np.zeros((C, C + 1), np.int64)
        with torch.no_grad():
            for sc in scenes:
                for gt, pred in predict(sc, m): cm += confusion(gt, pred, C)
        return cm

    @single_blas_thread
    def run():
        t0, rec = time.perf_counter(), None
        for s in range(1, a.steps + 1):
            net.train()
            out, y = batch(S.train[int(rng.integers(len(S.train)))], rng)
            loss = (F.cross_entropy(out, y, weight=w) if y.is_floating_point()           # soft targets: every pixel has some
                    else F.cross_entropy(out, y, weight=w, ignore_index=IGNORE_INDEX))
            opt.zero_grad(); loss.backward(); opt.step(); sched.step()
            if ema is not None: ema.update(net, step=s)
            if s in evals:
                dt = time.perf_counter() - t0
                rec = dict({k: (str(v) if isinstance(v, Path) else v) for k, v in vars(a).items()}, step=s,
                           sec_per_step=round(dt / s, 3), machine=machine_info()['cpu'],
                           **({'labels_train': fused_miou, 'stage1': stage1_name(S, a.seed)} if fused else {}))
                scored = [(net, '')] + ([(ema.module, 'ema_')] if ema is not None else [])
                for (m, pre), (name, scenes) in itertools.product(scored, [('held_out', S.val), ('train8', [ts.scene for ts in S.train[:8]])]):
                    cm, name = confusions(scenes, m), pre + name
                    rec[name] = round(miou(cm), 2)
                    rec[f'{name}_per_class'] = dict(zip(S.rooms.vocab.classes, (round(100 * float(x), 1) for x in iou(cm))))
                    rec[f'{name}_taken_for'] = taken_for(cm, S.rooms.vocab.classes)
                print(json.dumps(rec), flush=True)
                if a.out:
                    with open(a.out, 'a') as f: f.write(json.dumps(rec) + '\n')
                t0 = time.perf_counter() - dt               # evaluation is not a step's cost
        return rec
    return run()


def taken_for(cm: np.ndarray, classes: list, top: int = 2) -> dict:
    "Per class, the classes its points (or pixels) are most often predicted as, with their shares in % (a confusion's rows)."
    out = {}
    for c, name in enumerate(classes):
        row = cm[c, :len(classes)] / max(cm[c].sum(), 1)
        out[name] = {classes[k]: round(100 * float(row[k]), 1) for k in np.argsort(-row)[:top + 1] if k != c and row[k] > 0}
    return out


SOFT_POOL = 4   # soft targets are kept at a quarter of each view's height and width (float16), upsampled for the 2D network


def stage1_name(S, seed: int) -> str:
    "The cache folder of the stage-1 networks whose fusion `--labels fused` learns (`bench_cns._stage1`'s, by config and rooms)."
    from bench_cns import _stage1_dir
    return _stage1_dir(S, seed)[0].name


def stage1_fusion(S, seed: int, soft: bool = False) -> tuple[dict, dict]:
    """Per training room of `S` (by its name), the late fusion of the demo config's stage-1 networks of training seed
    `seed` (`bench_cns._stage1`, cached): 2D label maps and 3D labels, the latter ignored where no view sees the point
    (as the pseudo-labels' vote), and with `soft` the views' fused probabilities ((V, C, H/4, W/4) float16); and the
    labels' mIoU (%) on those rooms ({'2d', '3d'})."""
    from bench_cns import _stage1
    from labelfree.evaluate import fused_probabilities
    from labelfree.metrics import confusion, miou
    from labelfree.scene import IGNORE_INDEX
    from labelfree.train.cns import load_checkpoint
    tr = load_checkpoint(_stage1(S, seed) / 'checkpoint.pt', 'cpu')
    C = len(S.rooms.vocab)
    out, cm = {}, {d: np.zeros((C, C + 1), np.int64) for d in ('2d', '3d')}
    for ts in S.train:
        sc = ts.scene
        kept, p3 = fused_probabilities(tr.net2, tr.net3, sc, tr.cfg.image_size,        # view by view: the arg-max, and pooled probabilities
                                       per_view=lambda p: (p.argmax(0).numpy().astype(np.uint8), F.avg_pool2d(p[None], SOFT_POOL)[0].half() if soft else None))
        maps = [m for m, _ in kept]
        l3 = np.where(ts.labels.labels3d == IGNORE_INDEX, IGNORE_INDEX, p3.argmax(1).numpy()).astype(np.uint8)
        out[sc.name] = (maps, l3) + ((torch.stack([q for _, q in kept]),) if soft else ())
        for v, m in zip(sc.views, maps): cm['2d'] += confusion(v.labels, m, C)
        cm['3d'] += confusion(sc.points.labels, l3, C)
    return out, {d: round(miou(c), 2) for d, c in cm.items()}


def targets(ts, which, net, C, fused: dict | None = None):
    """A training room's per-view 2D label maps (`net` '2d') or 3D point labels: refined or raw pseudo-labels, the
    ground truth, or the stage-1 networks' late fusion (`fused`: `stage1_fusion`'s; its arg-max)."""
    from labelfree.labels import vote
    pl, sc = ts.labels, ts.scene
    if which == 'gt': return [v.labels for v in sc.views] if net == '2d' else sc.points.labels
    if which == 'fused': return fused[sc.name][0 if net == '2d' else 1]
    if which == 'raw': return pl.raw2d if net == '2d' else vote(ts.pairs, pl.raw2d, C)[0]
    return pl.labels2d if net == '2d' else pl.labels3d


def _net2d(a, C, cfg, y, soft=None):
    from labelfree.models.deeplab import DeepLab2D
    from labelfree.evaluate import predict_views
    from labelfree.models.deeplab import augmented_forward, resize_labels, view_images
    net = DeepLab2D(C, 'efficientnet_lite0', None, None, True, output_stride=a.output_stride, freeze_stages=a.freeze_stages)
    bb = {id(p) for p in net.net.backbone.parameters()}
    lr = a.lr or cfg.lr_2d
    groups = [dict(params=[p for p in net.parameters() if id(p) in bb and p.requires_grad], lr=lr),
              dict(params=[p for p in net.parameters() if id(p) not in bb], lr=lr * cfg.head_lr_mult_2d)]
    size = tuple(a.size)

    def batch(ts, rng):
        vs = sorted(rng.choice(len(ts.scene.views), a.views, replace=False).tolist())
        x = view_images(ts.scene, vs, size)
        out = (augmented_forward(net, x, rng) if a.augment else net(x))['logits']
        if a.soft:                                    # the fused probabilities, upsampled to the network's output
            return out, F.interpolate(soft[ts.scene.name][vs].float(), size=out.shape[-2:], mode='bilinear', align_corners=False)
        return out, resize_labels([y[id(ts)][v] for v in vs], size)

    def predict(sc, m):
        yield from zip((v.labels for v in sc.views), predict_views(m, sc, size)[0])

    return net, groups, batch, predict


def _net3d(a, C, cfg, y):
    from labelfree.models.minkunet import Net3D, sparse_batch
    from labelfree.models.minkunet import augment_xyz, point_inputs
    net = Net3D(4, C, a.voxel_size, None, a.width, norm=a.norm_3d)
    groups = [dict(params=list(net.parameters()), lr=a.lr or cfg.lr_3d)]

    def batch(ts, rng):
        o = net(sparse_batch([augment_xyz(ts.scene.points.xyz, rng)], [point_inputs(ts.scene)], a.voxel_size))
        return o['logits'], torch.from_numpy(y[id(ts)].astype(np.int64))

    def predict(sc, m):
        yield sc.points.labels, m(sparse_batch([sc.points.xyz], [point_inputs(sc)], a.voxel_size))['logits'].argmax(1).numpy()
    return net, groups, batch, predict


if __name__ == '__main__':
    main()
