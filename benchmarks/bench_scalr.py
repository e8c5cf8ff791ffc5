"""ScaLR distillation: step time and the simulated-teacher CPU demo's figures (JSON in benchmarks/results/scalr.json).

1. `speed`: one distillation step on the demo config's first procedural room, median of repeated steps after a
   warm-up. The step is the whole of `Distiller.step`: teacher features at the chosen pairs (from the in-memory grid
   cache, as the demo runs; and once with the cache off, i.e. the teacher recomputed), the sparse student forward and
   backward, the AdamW update. Also each teacher alone per view: the config's, the simulated CLIP-like one and a toy
   DINOv2 of timm's class (random weights; a real ViT-L costs far more, on a GPU). The settings and the machine
   (cores, load average at the start and the end) go with the figures.
2. `demo`: `labelfree distill --config scalr_demo --probe` with the simulated CLIP-like teacher (`SIM` overrides):
   held-out cosine with the teacher before training and at each evaluated epoch, the loss of the first and last
   epochs, linear-probe mIoU of the distilled against a random backbone with the config's probe settings and with
   ScaLR's (`ProbeConfig`'s defaults), zero-shot mIoU through the teacher's text space (`open_vocab_labels`) before
   and after distillation, the teacher's own labels carried to the points its views see, and the wall time.
   `--quick` shrinks it (`QUICK` overrides) to check the code path in under a minute; its figures go under
   `demo_quick`, which no notebook renders.

Each part can be run alone (`--only speed` / `--only demo`); results already in the JSON are kept.
"""
import argparse
import json
import os
import statistics
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from common import result_path, write_result

OUT = result_path('scalr')
SIM = ['teacher=simulated-clip:64', 'short_side=224']           # the config's own teacher is real; its figures are bench_imagenet.py's
QUICK = ['epochs=2', 'eval_every=1', 'data.n_scenes=2', 'data.n_val=1', 'data.n_views=4', 'data.points_per_m2=150']


def _jsonable(x):
    "`x` as JSON reads it back (paths and other objects as strings), so a stored config compares equal to a fresh one."
    return json.loads(json.dumps(x, default=str))


def speed(repeats: int = 5) -> dict:
    "Median step time with the teacher cached and recomputed, points and pairs per second, and each teacher's time per view."
    from labelfree.train.data import procedural_rooms, read_data_config
    from labelfree.train.scalr import Distiller, load_scalr_config, prepare_distill
    from labelfree.vfm.teachers import make_teacher
    load = [round(x, 2) for x in os.getloadavg()]                  # before we add ours: how shared the cores were
    cfg = load_scalr_config('scalr_demo', ['device=cpu'])
    scene = procedural_rooms(read_data_config('scalr_demo', n_scenes=1), seed=0)[0]
    ts = prepare_distill(scene)
    teacher = make_teacher(cfg.teacher, vocab=scene.vocab, seed=cfg.seed)
    H, W = scene.views[0].hw
    out = dict(settings=dict(config='scalr_demo', points=len(scene.points), views=len(scene.views), views_per_step=cfg.views_per_scene,
                             max_pairs=cfg.max_pairs, width_3d=cfg.width_3d, voxel_size=cfg.voxel_size, teacher=teacher.name,
                             view_size=[int(W), int(H)], repeats=repeats, warmup_steps=1),
               machine=dict(cpu_count=os.cpu_count(), loadavg_start=load), step={}, teacher_ms_per_view={})
    for cache in (True, False):
        d = Distiller(cfg.update(cache_teacher=cache), ts.inputs.shape[1], teacher.dim, total_steps=1000)
        rng = np.random.default_rng(0)
        if cache:                                                           # every view's grids, so no timed step computes any
            for v in range(len(scene.views)): d.targets(teacher, ts, v, [0], [0])
        d.step(teacher, [ts], rng)                                          # warm-up
        times, pts, pairs = [], 0, 0
        for _ in range(repeats):
            t = time.perf_counter(); r = d.step(teacher, [ts], rng); times.append(time.perf_counter() - t)
            pts += r['points']; pairs += r['pairs']
        k = 'teacher cached' if cache else 'teacher recomputed'
        out['step'][k] = dict(seconds=round(statistics.median(times), 3), points_per_s=round(pts / sum(times)),
                              pairs_per_s=round(pairs / sum(times)), points=r['points'], pairs=r['pairs'])
        print(f"  distillation step ({k}): {out['step'][k]['seconds'] * 1000:.0f} ms median of {repeats}; "
              f"{out['step'][k]['points_per_s']:,} points/s, {out['step'][k]['pairs_per_s']:,} pairs/s", flush=True)
    s = out['settings']
    print(f"  ({s['points']:,} points, {r['pairs']:,} pairs, {s['views_per_step']} of {s['views']} views per step; "
          f"MinkUNet34 width {s['width_3d']}, {s['voxel_size']} m voxels, teacher {s['teacher']}; {os.cpu_count()} cores, load {load})")
    for t_ in [teacher] + [make_teacher(spec, vocab=scene.vocab, short_side=224) for spec in ('simulated-clip:64', 'dinov2:tiny')]:
        t_.grids(scene, 0)                                                  # warm-up
        t = time.perf_counter()
        for v in range(4): t_.grids(scene, v)
        out['teacher_ms_per_view'][t_.name] = round((time.perf_counter() - t) / 4 * 1000, 1)
        print(f"  teacher {t_.name}: {out['teacher_ms_per_view'][t_.name]:.0f} ms per {W}x{H} view")
    out['machine']['loadavg_end'] = [round(x, 2) for x in os.getloadavg()]     # with ours in it: above the cores, others ran too
    return out


def _zero_shot(net, teacher, scenes, voxel_size) -> float:
    "mIoU over `scenes`' points of the class whose text embedding is nearest each point's distilled feature."
    from labelfree.metrics import confusion, miou
    from labelfree.train.scalr import open_vocab_labels, point_features
    C = len(scenes[0].vocab)
    conf = sum(confusion(s.points.labels, open_vocab_labels(point_features(net, s, voxel_size)['distilled'], teacher, s.vocab)[0], C)
               for s in scenes)
    return round(miou(conf), 2)


def _teacher_labels(teacher, scenes) -> dict:
    "The teacher's own zero-shot labels: per pixel the nearest class text embedding, voted to the points the views see; mIoU over all points (unseen ones count as misses) and the share seen."
    from labelfree.geometry import scene_pairs
    from labelfree.labels import vote
    from labelfree.metrics import confusion, miou
    from labelfree.train.scalr import text_similarity
    C = len(scenes[0].vocab)
    conf, seen, n = np.zeros((C, C + 1), np.int64), 0, 0
    for s in scenes:
        cls = teacher.text_classifier(s.vocab)
        maps = []
        for v in range(len(s.views)):
            f = teacher.pixels(s, v)                                       # (D, H, W)
            maps.append(text_similarity(f.flatten(1).T, cls).argmax(1).reshape(f.shape[1:]).cpu().numpy())
        lab, _, votes = vote(scene_pairs(s), maps, C)
        conf += confusion(s.points.labels, lab, C); seen += int((votes > 0).sum()); n += len(votes)
    return dict(miou=round(miou(conf), 2), seen_points=round(seen / n, 3))


def demo(quick: bool = False) -> dict:
    "`labelfree distill --config scalr_demo --probe` with the simulated teacher, then ScaLR's probe, zero-shot and the teacher's own labels."
    from labelfree.cli import main
    from labelfree.train.data import distill_data, read_data_config, trainer_overrides
    from labelfree.probe import ProbeConfig, probe_checkpoint
    from labelfree.train.scalr import distill_cosine, load_distill_checkpoint, load_scalr_config, make_student
    from labelfree.vfm.teachers import make_teacher
    over = SIM + (QUICK if quick else [])
    data = read_data_config('scalr_demo', over)
    cfg = load_scalr_config('scalr_demo', trainer_overrides(over))
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as d:
        if main(['distill', '--config', 'scalr_demo', *over, '--probe', '--out', d, '--quiet']):
            raise SystemExit('labelfree distill failed (its message is above)')
        command_s = time.perf_counter() - t0
        log = [json.loads(l) for l in Path(f'{d}/log.jsonl').read_text().splitlines()]
        rep = json.loads(Path(f'{d}/probe/report.json').read_text())
        ds, names, val = distill_data(data)                             # the rooms the command distilled and probed on
        train = [ds.load(n) for n in names[:data.n_probe]]
        dist = load_distill_checkpoint(f'{d}/checkpoint.pt', 'cpu')
        teacher = make_teacher(cfg.teacher, cfg.teacher_weights, vocab=ds.vocab, short_side=cfg.short_side, pre_norm=cfg.pre_norm,
                               download=cfg.download, device=cfg.device, seed=cfg.seed)
        init = make_student(dist.in_channels, dist.teacher_dim, dist.cfg)     # the student as training found it (same seed)
        scalr_pc = ProbeConfig()
        scalr = probe_checkpoint(f'{d}/checkpoint.pt', train, val, scalr_pc, random_baseline=True)
        probes = {}
        for k, pc, r in (('demo', rep['probe'], rep['miou']), ('scalr', asdict(scalr_pc), scalr['miou'])):
            probes[k] = dict(epochs=pc['epochs'], lr=pc['lr'], steps=pc['epochs'] * len(train),
                             distilled=round(r['distilled'], 2), random=round(r['random'], 2))
        res = dict(overrides=over, config=_jsonable(asdict(cfg)), data=_jsonable(data.to_dict()),
                   teacher=teacher.name, rooms=len(train), held_out_rooms=len(val),
                   held_out_cosine=[dict(epoch=0, cosine=round(distill_cosine(init, teacher, val, cfg.voxel_size), 4))]
                                   + [dict(epoch=r['epoch'], cosine=r['val_cosine']) for r in log if 'val_cosine' in r],
                   loss=dict(first_epoch=round(log[0]['loss'], 4), last_epoch=round(log[-1]['loss'], 4)), steps=dist.step_count,
                   probe=probes,
                   zero_shot=dict(before=_zero_shot(init, teacher, val, cfg.voxel_size), after=_zero_shot(dist.net, teacher, val, cfg.voxel_size)),
                   teacher_labels=_teacher_labels(teacher, val),
                   seconds=dict(distill_and_probe=round(command_s, 1), total=round(time.perf_counter() - t0, 1)))
    print(f"  {res['teacher']}: held-out cosine " + ', '.join(f"{c['cosine']:.3f} (epoch {c['epoch']})" for c in res['held_out_cosine'])
          + f"; loss {res['loss']['first_epoch']:.3f} -> {res['loss']['last_epoch']:.3f}")
    for k, p in probes.items():
        print(f"  probe ({k}: {p['epochs']} epochs, lr {p['lr']}): distilled {p['distilled']:.1f}, random {p['random']:.1f}")
    print(f"  zero-shot {res['zero_shot']['before']:.1f} before, {res['zero_shot']['after']:.1f} after; teacher's own labels "
          f"{res['teacher_labels']['miou']:.1f} ({100 * res['teacher_labels']['seen_points']:.0f}% of points seen); {res['seconds']['total']:.0f} s")
    return res


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument('--only', nargs='+', choices=['speed', 'demo'], default=['speed', 'demo'])
    ap.add_argument('--repeats', type=int, default=5, help='speed: timed steps per setting')
    ap.add_argument('--quick', action='store_true', help='demo: a shrunken run to check the code path (written as demo_quick)')
    a = ap.parse_args()
    print(__doc__.strip().splitlines()[0])
    if 'speed' in a.only: write_result(OUT, 'speed', speed(a.repeats))
    if 'demo' in a.only: write_result(OUT, 'demo_quick' if a.quick else 'demo', demo(a.quick))
    print(f'  written to {OUT}')
