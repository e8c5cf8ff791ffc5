"""CNS: the ablation and the label-noise sweep (JSON in benchmarks/results/cns.json), the step overhead, and the demo's wall time and memory.

1. `ablation`: on the demo's scale (its rooms, views, held-out rooms, models and schedule), for each seed, scored on
   the held-out rooms and on the training rooms themselves: raw pseudo-labels, refined pseudo-labels, 2D alone and
   3D alone (one uncoupled run: no switching, no latent loss, no stage 2), co-training without the latent loss
   (stage 1), full stage 1 and stage 2 (one run's two checkpoints). Beside it, for the full run's stage-1 networks,
   how often each network is right on the pairs where it supervises the other, against the pseudo-labels there.
2. `sweep`: one seed, the full run for several mixes of persistent (per-object) and per-view simulated CLIP errors
   at the demo's severity: stage 2's gains over raw and refined pseudo-labels.
3. `step`: one CNS step against a bare MinkUNet34 step plus a bare DeepLabV3 step (the median ratio of each CNS step to the bare step run right after it, 30 pairs).
4. `demo`: `labelfree demo` wall time and peak memory (targets: <= 15 min, <= 4 GB).
5. `run`: one full run (stage 1 and stage 2) of the demo's setting with config overrides (`--set key=value ...`), for
   trying a configuration before it becomes the demo's: its scores, training time and pair accuracies (not in the JSON).
6. `levers2d` (not in the default parts): the 2D network alone on the refined labels, on the demo's schedule, for each
   2D lever (augmentation, more rooms with fewer views, output stride 8, or other labels: the stage-1 networks' late
   fusion), scored per class on the held-out and training rooms, beside the refined labels and a perfect classifier's
   mIoU at each output stride: where the 2D network's gap to its labels comes from.
7. `stage2` (not in the default parts): each stage-2 lever (`STAGE2_LEVERS`) trained from the same stage-1 checkpoint
   of the demo config, for each seed: the networks' and their late fusion's mIoU on held-out and training rooms, per
   class on the held-out rooms, and the classes each erases.
8. `knobs` (not in the default parts): the demo config (stages 1 and 2) on rooms and labels it was not tuned on, one
   knob of the room generator or simulated CLIP at a time (`KNOBS`: severity, object_scale, room_types), the
   training and held-out rooms both made with it; for the first seed only unless --seeds names others (a row is a
   whole run, about 20 minutes here): the labels', networks' and fusion's mIoU and per-class IoU, and which of the
   demo's claims (`cns_claims`) hold.

Every training run is cached under benchmarks/cache/cns/ by the hash of what it depends on (the fields of its
configuration that differ from the defaults, the training rooms and the models' names), and pseudo-labels by the
rooms and the models' names. Scores are cached beside the checkpoints for each set of held-out rooms, so an
interrupted or repeated bench computes only what is missing, and another held-out set re-scores the checkpoints
without training them again; the JSON is rewritten after every run. Options: --only PART [PART ...], --seeds 0 1, --mixes 0 0.5 0.75 1, --set key=value ...
"""
import argparse
import functools
import hashlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from common import result_path, write_result

HERE = Path(__file__).resolve().parent
OUT, CACHE = result_path('cns'), HERE / 'cache' / 'cns'


def _hash(obj) -> str: return hashlib.sha1(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:10]


def _changed(cfg: dict) -> dict:
    "The fields of a CNS config (as a dict) that differ from `CNSConfig`'s defaults: a run's cache key, which a new field leaves alone."
    from labelfree.train.cns import CNSConfig
    norm = lambda v: json.loads(json.dumps(v, default=str))
    base = asdict(CNSConfig())
    return {k: v for k, v in cfg.items() if k not in base or norm(v) != norm(base[k])}


class Setting:
    "The demo's rooms and models at one simulated-CLIP mix, with pseudo-labels cached by the models' names."
    def __init__(self, persistent=None, config='demo', data_over: dict | None = None, seed: int | None = None):
        from labelfree.demo import demo_models
        from labelfree.scene import SCANNET20
        from labelfree.labels import load_pseudo_labels, run_pseudo_labels, scene_file_name
        from labelfree.train.cns import load_config, prepare
        from labelfree.train.setup import config_sections
        from labelfree.train.data import procedural_rooms, read_data_config
        data = read_data_config(config, **(data_over or {}))       # data_over: e.g. other rooms and views to train on
        self.data = {**config_sections(config)['data'], **(data_over or {})}   # the section as written: what results record
        self.config, seed = config, load_config(config).seed if seed is None else seed     # seed: the rooms' (the config's by default)
        if persistent is None: persistent = data.persistent
        self.clip, self.sam, self.feats, _ = demo_models(SCANNET20, data.severity, seed, features=data.features,
                                                         persistent=persistent)
        self.rooms = procedural_rooms(data, seed)
        self.val = list(procedural_rooms(data, seed, held_out=True))
        self.key = _hash([repr(self.rooms), self.clip.name, self.sam.name, self.feats.name])   # what training depends on
        self.val_key = _hash(repr(self.val))                                                     # and what scoring adds
        lab = CACHE / f'labels-{self.key}'
        run_pseudo_labels(self.rooms, lab, self.clip, self.sam, self.feats, progress=False)
        self.train = []
        for s in self.rooms:
            pl = load_pseudo_labels(lab / f'{scene_file_name(s.name)}.npz')
            self.train.append(prepare(s, pl, pl.features))

    @functools.cached_property
    def held_out_confusions(self) -> dict:
        "The pseudo-labels' confusion matrices on the held-out rooms (labelled once, whoever asks first)."
        from labelfree.evaluate import pseudo_label_confusions
        return pseudo_label_confusions(self.val, self.clip, self.sam)

    def label_scores(self, n_train: int | None = None) -> dict:
        "Raw and refined pseudo-labels' mIoU on the held-out rooms and on the (first `n_train`) training rooms."
        from labelfree.labels import vote
        from labelfree.metrics import confusion, miou
        h = self.held_out_confusions
        C = len(self.rooms.vocab)
        t = {k: np.zeros((C, C + 1), np.int64) for k in ('raw2d', 'ref2d', 'raw3d', 'ref3d')}
        for ts in self.train[:n_train]:
            sc, pl = ts.scene, ts.labels
            for v, r, f in zip(sc.views, pl.raw2d, pl.refined2d):
                t['raw2d'] += confusion(v.labels, r, C); t['ref2d'] += confusion(v.labels, f, C)
            t['raw3d'] += confusion(sc.points.labels, vote(ts.pairs, pl.raw2d, C)[0], C)
            t['ref3d'] += confusion(sc.points.labels, pl.labels3d, C)
        row = lambda c, p: {'2d': round(miou(c[f'{p}2d']), 2), '3d': round(miou(c[f'{p}3d']), 2)}
        return {'raw pseudo-labels': dict(held_out=row(h, 'raw'), train=row(t, 'raw')),
                'refined pseudo-labels': dict(held_out=row(h, 'ref'), train=row(t, 'ref'))}

    def run(self, name: str, seed: int, **over) -> dict:
        "Train (or resume, or read from the cache) one run; its checkpoints' scores on the held-out and training rooms."
        from labelfree.data.io import atomic_path
        from labelfree.train.cns import load_checkpoint, load_config, train_cns
        cfg = load_config(self.config, [f'seed={seed}']).update(proj_dim=self.feats.dim, **over)
        d = CACHE / f'run-{_hash([_changed(asdict(cfg)), self.key])}'
        done, trained = d / f'scores-{self.val_key}.json', d / 'trained.json'    # held-out rooms of their own: scored again, not trained again
        if done.exists(): return json.loads(done.read_text())
        if not trained.exists():
            t = time.perf_counter()
            print(f'  training {name}, seed {seed} -> {d}', flush=True)
            train_cns(cfg, self.train, None, d, resume=True, progress=False)
            with atomic_path(trained) as tmp: Path(tmp).write_text(json.dumps(dict(train_seconds=round(time.perf_counter() - t, 1))))
        ckpts = {'stage1': d / 'stage1.pt'} | ({'stage2': d / 'checkpoint.pt'} if cfg.epochs_stage2 else {})
        res = dict(config=asdict(cfg), **json.loads(trained.read_text()))
        for k, p in ckpts.items():
            tr = load_checkpoint(p, 'cpu')
            res[k] = dict(held_out=_scores(tr, self.val, cfg), train=_scores(tr, [ts.scene for ts in self.train], cfg))
            if k == 'stage1' and cfg.p_switch > 0: res['pairs'] = _pair_accuracy(tr, self.train, cfg)
        with atomic_path(done) as tmp: Path(tmp).write_text(json.dumps(res, indent=1))      # a killed bench leaves no half file
        return res


def _scores(tr, scenes, cfg) -> dict:
    from labelfree.metrics import miou
    from labelfree.evaluate import evaluate_nets
    c = evaluate_nets(tr.net2, tr.net3, scenes, cfg.image_size)
    return {'2d': round(miou(c['2d']), 2), '3d': round(miou(c['3d']), 2)}


def _pair_accuracy(tr, train, cfg) -> dict:
    "On the training rooms' point-pixel pairs (where switching supervises one network by the other): accuracy against ground truth of each network's prediction and of the pseudo-label it replaces."
    from labelfree.evaluate import predict_scene
    n = dict(pairs=0, net2_at_points=0, labels3d_at_points=0, net3_at_pixels=0, labels2d_at_pixels=0)
    for ts in train:
        sc, pl, pp = ts.scene, ts.labels, ts.pairs
        maps, l3 = predict_scene(tr.net2, tr.net3, sc, cfg.image_size)
        for v, view in enumerate(sc.views):
            b = pp.block(v)
            pt, r, q = pp.point[b], pp.row[b], pp.col[b]
            gt3, gt2 = sc.points.labels[pt], view.labels[r, q]
            ok = (gt3 != 255) & (gt2 != 255)
            n['pairs'] += int(ok.sum())
            n['net2_at_points'] += int((maps[v][r, q] == gt3)[ok].sum())          # what a switched 3D network learns
            n['labels3d_at_points'] += int((pl.labels3d[pt] == gt3)[ok].sum())   # what it learns unswitched
            n['net3_at_pixels'] += int((l3[pt] == gt2)[ok].sum())               # what a switched 2D network learns
            n['labels2d_at_pixels'] += int((pl.labels2d[v][r, q] == gt2)[ok].sum())
    return {k: (round(100 * v / max(n['pairs'], 1), 2) if k != 'pairs' else v) for k, v in n.items()}


RUNS = {  # name: (overrides, {row: checkpoint and network})
    'uncoupled': (dict(p_switch=0.0, lambda_latent=0.0, epochs_stage2=0), {'2D alone': ('stage1', '2d'), '3D alone': ('stage1', '3d')}),
    'no latent': (dict(lambda_latent=0.0, epochs_stage2=0), {'co-training without latent loss': ('stage1', None)}),
    'full': ({}, {'full stage 1': ('stage1', None), 'stage 2 (self + cross)': ('stage2', None)}),
}


def ablation(seeds=(0, 1)):
    s = Setting()
    rows = {k: {split: {d: [v[split][d]] for d in ('2d', '3d')} for split in ('held_out', 'train')}
            for k, v in s.label_scores().items()}
    out = dict(settings=dict(config='demo', rooms=len(s.train), views=s.data['n_views'], held_out_rooms=len(s.val), seeds=list(seeds),
                             labeler=s.clip.name, regions=s.sam.name, features=s.feats.name, **_measured_with(s)),
               rows=rows, pairs={}, seconds={})
    for i, seed in enumerate(seeds):
        for run, (over, takes) in RUNS.items():
            r = s.run(run, seed, **over)
            out['seconds'][f'{run}/{seed}'] = r['train_seconds']
            if 'pairs' in r and run == 'full': out['pairs'][str(seed)] = r['pairs']
            for row, (ck, net) in takes.items():
                for split in ('held_out', 'train'):
                    cell = rows.setdefault(row, {sp: {'2d': [None] * len(seeds), '3d': [None] * len(seeds)} for sp in ('held_out', 'train')})[split]
                    for d in ('2d', '3d'):
                        if net in (None, d): cell[d][i] = r[ck][split][d]
            write_result(OUT, 'ablation', out)
    for row, v in rows.items():
        for split, cell in v.items():
            print(f"  {row:34s} {split:8s} " + '  '.join(f"{d} {_mean(cell[d])}" for d in ('2d', '3d')))
    return out


def _measured_with(s: 'Setting') -> dict:
    "The demo configuration and data section the figures were measured with, so a reader can tell when they go stale."
    from labelfree.train.cns import load_config
    return dict(demo_config=json.loads(json.dumps(asdict(load_config(s.config)), default=str)), data=s.data)


def _mean(xs):
    xs = [x for x in xs if x is not None]
    if not xs: return '-'
    return f'{statistics.mean(xs):5.1f}' + (f' ± {statistics.stdev(xs):.1f}' if len(xs) > 1 else '')


def sweep(mixes=(0.0, 0.5, 0.75, 1.0), seed=0):
    out = {}
    for m in mixes:
        s = Setting(persistent=m)
        labels = s.label_scores()
        r = s.run('full', seed)
        out[str(m)] = dict(labeler=s.clip.name, raw=labels['raw pseudo-labels'], refined=labels['refined pseudo-labels'],
                           stage2=r['stage2'], stage1=r['stage1'])
        g = {b: {sp: round(r['stage2'][sp]['3d'] - labels[f'{b} pseudo-labels'][sp]['3d'], 2) for sp in ('held_out', 'train')} for b in ('raw', 'refined')}
        out[str(m)]['gain_3d'] = g
        print(f"  persistent {m}: stage-2 3D gain over raw {g['raw']['held_out']:+.1f} / refined {g['refined']['held_out']:+.1f} held-out, "
              f"{g['raw']['train']:+.1f} / {g['refined']['train']:+.1f} on the training rooms", flush=True)
        write_result(OUT, 'sweep', dict(seed=seed, severity=s.data['severity'], mixes=out, **_measured_with(s)))
    return out


LEVERS_2D = {  # row: bench_networks.py arguments and the readout scored ('' the weights, 'ema_' their moving average);
    # each trains the 2D network alone on the refined labels (a row's own --labels aside) with the demo's optimiser and number of steps (624)
    "the demo's settings (stem and two stages frozen)": ([], ''),
    'whole backbone trained': (['--freeze-stages', '0'], ''),
    'class_balance 0 (0.5 in the demo)': (['--class-balance', '0'], ''),
    'augment_2d (mirror, rescale, colour jitter)': (['--augment'], ''),
    'moving average of the weights (decay 0.995)': (['--ema', '0.995'], 'ema_'),
    '96 rooms x 4 views': (['--data', 'n_scenes=96', 'n_views=4', 'val_views=8'], ''),
    'peak learning rate 6e-4 (3e-4 in the demo)': (['--lr', '6e-4'], ''),
    'twice the steps (1248)': (['--steps', '1248'], ''),
    # what it learns from: the late fusion of the demo config's stage-1 networks on the training rooms (bench_networks.py --labels fused)
    "labels: the stage-1 networks' late fusion": (['--labels', 'fused'], ''),
    "labels: the stage-1 networks' late fusion, twice the steps (1248)": (['--labels', 'fused', '--steps', '1248'], ''),
    "labels: the stage-1 networks' late fusion as probabilities (soft targets, knowledge distillation)": (['--labels', 'fused', '--soft'], ''),
}


def _demo_2d() -> list:
    "bench_networks.py's arguments for the demo's 2D network: its input size and frozen stages."
    from labelfree.train.cns import load_config
    c = load_config('demo')
    return ['--net', '2d', '--size', *map(str, c.image_size), '--freeze-stages', str(c.freeze_2d)]


READOUT_ONLY = ('out', 'evals')   # bench_networks options that change what a run prints, not what it trains


def fused_stage1(opts: dict) -> str:
    "The stage-1 cache folder whose fusion a `bench_networks.py --labels fused` run with options `opts` would learn now."
    from bench_networks import stage1_name
    from labelfree.train.setup import parse_overrides
    return stage1_name(Setting(data_over=parse_overrides(opts['data']) if opts['data'] else None, seed=opts['rooms_seed']), opts['seed'])


def network_record(argv: list, log: Path | None = None) -> dict:
    """bench_networks.py's last record for `argv`: the newest one in `log` (default `cache/cns/networks.jsonl`) that
    trained the same way (options a record predates count as their defaults; a run with an EMA readout serves one
    without), else a new run appended to it."""
    import bench_networks
    log = log or CACHE / 'networks.jsonl'
    default = vars(bench_networks.parser().parse_args([]))
    want = {k: v for k, v in vars(bench_networks.parser().parse_args(argv)).items() if k not in READOUT_ONLY}
    same = lambda r: r.get('step') == want['steps'] and all(
        json.dumps(r.get(k, default[k])) == json.dumps(v) for k, v in want.items() if not (k == 'ema' and v == 0))
    seen = [json.loads(l) for l in log.read_text().splitlines()] if log.exists() else []
    if want['labels'] == 'fused':         # the fusion of the current demo config's stage 1 (records before `stage1` never match)
        s1 = fused_stage1(want)
        seen = [r for r in seen if r.get('stage1') == s1]
    rec = next((r for r in reversed(seen) if same(r)), None)
    return rec or bench_networks.main([*argv, '--out', str(log)])


def resolution_ceiling(scenes, strides=(8, 16, 32)) -> dict:
    "mIoU (%) of a perfect classifier read out at each output stride: the ground truth averaged over stride x stride cells, upsampled bilinearly as DeepLabV3 does, arg-maxed."
    from labelfree.metrics import confusion, miou
    C = len(scenes[0].vocab)
    out = {}
    for st in strides:
        c = np.zeros((C, C + 1), np.int64)
        for sc in scenes:
            for v in sc.views:
                y = torch.from_numpy(v.labels.astype(np.int64)); ok = y != 255
                oh = F.one_hot(torch.where(ok, y, 0), C).permute(2, 0, 1).float()[None] * ok[None, None]
                up = F.interpolate(F.avg_pool2d(oh, st), size=y.shape, mode='bilinear', align_corners=False)[0].argmax(0).numpy()
                c += confusion(v.labels, up, C)
        out[str(st)] = round(miou(c), 2)
    return out


def levers_2d(steps: int = 624, rows=None):
    """Which 2D levers close the 2D network's gap to its refined labels: each trained alone on them (bench_networks.py),
    scored per class on the demo's held-out rooms and on its first 8 training rooms. `rows`: these rows only
    (`lever_rows`), the JSON's other rows kept."""
    base = Setting()
    labels = base.label_scores(n_train=8)
    prev = (json.loads(OUT.read_text()).get('levers_2d', {}) if OUT.exists() else {}).get('rows', {})
    out = dict(steps=steps, classes=list(base.rooms.vocab.classes), refined=labels['refined pseudo-labels'],
               refined_per_class_held_out=_label_per_class(base), ceiling_held_out=resolution_ceiling(base.val),
               rows={k: prev[k] for k in LEVERS_2D if k in prev and rows}, stage1_now=_stage1_dir(base, 0)[0].name, **_measured_with(base))
    for name in lever_rows(LEVERS_2D, rows):
        argv, readout = LEVERS_2D[name]
        rec = network_record([*_demo_2d(), '--labels', 'refined', '--steps', str(steps), *argv])     # a row's own --steps wins
        pc = rec[f'{readout}held_out_per_class']
        out['rows'][name] = dict(held_out=dict(miou=rec[f'{readout}held_out'], per_class=[pc[c] for c in out['classes']]),
                                 train=dict(miou=rec[f'{readout}train8']), steps=rec['step'], seconds=round(rec['sec_per_step'] * rec['step']),
                                 labels=rec['labels'] + (' probabilities' if rec.get('soft') else ''),
                                 **{k: rec[k] for k in ('labels_train', 'stage1', 'machine') if k in rec})
        out['rows'] = {k: out['rows'][k] for k in LEVERS_2D if k in out['rows']}
        r = out['rows'][name]
        print(f"  {name}: held-out {r['held_out']['miou']:.1f} (refined labels {out['refined']['held_out']['2d']:.1f}), "
              f"first 8 training rooms {r['train']['miou']:.1f}, {r['seconds']:.0f} s", flush=True)
        write_result(OUT, 'levers_2d', out)
    return out


CEILINGS = {  # row: bench_networks.py arguments (2D: the demo's input size and frozen stages); each network alone, the demo's steps
    '3D on ground truth': ['--net', '3d', '--labels', 'gt'],
    '3D on refined labels': ['--net', '3d', '--labels', 'refined'],
    '3D on ground truth, 5 cm voxels': ['--net', '3d', '--labels', 'gt', '--voxel-size', '0.05'],   # the paper's voxels, at the demo's width and steps
    '2D on ground truth': ['--labels', 'gt'],
    '2D on refined labels': ['--labels', 'refined'],
    # more steps: are the classes the ground truth cannot teach in the demo's steps (window, refrigerator, toilet) a
    # matter of budget?
    '3D on ground truth, twice the steps': ['--net', '3d', '--labels', 'gt', '--steps', '1248'],
    # batch normalisation evaluates with running averages over rooms, though each step normalises one room by its own
    # statistics; instance normalisation normalises each room by its own in training and evaluation (MinkUNet34's norm)
    '3D on ground truth, instance normalisation': ['--net', '3d', '--labels', 'gt', '--norm-3d', 'instance'],
    '3D on refined labels, instance normalisation': ['--net', '3d', '--labels', 'refined', '--norm-3d', 'instance'],
    '2D on ground truth, twice the steps': ['--labels', 'gt', '--steps', '1248'],
    # the labels CNS's stage 1 makes: its two networks' late fusion on the training rooms (bench_networks.py --labels fused)
    "3D on the stage-1 networks' fused labels": ['--net', '3d', '--labels', 'fused'],
    "2D on the stage-1 networks' fused labels": ['--labels', 'fused'],
}


def ceilings(rows=None, steps: int = 624):
    """Per class, what each network reaches alone in the demo's steps, on the ground truth (the ceiling that its input,
    its size and the budget allow) and on the refined labels (no co-training), beside the refined labels' own IoU, and
    what each class is most often taken for: a class the network cannot learn from the ground truth is out of its
    reach, not erased by co-training. Runs are kept in `cache/cns/networks.jsonl` (bench_networks.py's records) and reused.
    `rows`: these rows only (`lever_rows`), the JSON's others kept as measured; a row may set its own `--steps`."""
    s = Setting()
    prev = (json.loads(OUT.read_text()).get('ceilings', {}) if OUT.exists() else {}).get('rows', {})
    out = dict(steps=steps, refined={d: _per_class(s.held_out_confusions[f'ref{d}']) for d in ('2d', '3d')}, classes=list(s.rooms.vocab.classes), rows={},
               stage1_now=_stage1_dir(s, 0)[0].name)     # the stage 1 whose fusion the fused-label rows learn now
    rows = lever_rows(CEILINGS, rows)
    out['rows'] = {n: prev[n] for n in CEILINGS if n in prev and n not in rows}    # the rows not asked for, as measured
    for name in rows:
        argv = CEILINGS[name] if '--net' in CEILINGS[name] else [*_demo_2d(), *CEILINGS[name]]
        rec = network_record(argv if '--steps' in argv else [*argv, '--steps', str(steps)])    # a row's own steps, else `steps`
        out['rows'][name] = dict(net=rec['net'], labels=rec['labels'], steps=rec['step'], held_out=rec['held_out'],
                                 per_class=[rec['held_out_per_class'][c] for c in out['classes']],
                                 taken_for=rec.get('held_out_taken_for'), sec_per_step=rec['sec_per_step'], machine=rec.get('machine'),
                                 **({k: rec[k] for k in ('labels_train', 'stage1') if k in rec}))
        out['rows'] = {n: out['rows'][n] for n in CEILINGS if n in out['rows']}
        print(f"  {name}: held-out mIoU {rec['held_out']:.1f}", flush=True)
        write_result(OUT, 'ceilings', out)
    return out


TRAIN_ROOMS_SCORED = 16   # the networks are scored on the first 16 training rooms too (all 48 would triple the scoring time)
STAGE2_FIELDS = ('tau_self', 'tau_cross', 'tau_cross_2d', 'dense_cross', 'fused_targets', 'min_class_recall', 'epochs_stage2',
                 'stage2_lr_scale', 'students', 'students_min_recall', 'students_unseen')
STAGE2_LEVERS = {  # row: the stage-2 settings it trains with, from the same stage-1 checkpoint (the demo config's stage 1)
    "the paper's: 3D teaches 2D at the pixels its points hit, from confidence 0.9":
        dict(dense_cross=False, tau_cross_2d=None, min_class_recall=0.0, epochs_stage2=3),
    '3D teaches 2D at every pixel with depth, from confidence 0.5':
        dict(dense_cross=True, tau_cross_2d=0.5, min_class_recall=0.0, epochs_stage2=3),
    '... and a network overrules only the classes it knows (min_class_recall 0.2)':
        dict(dense_cross=True, tau_cross_2d=0.5, min_class_recall=0.2, epochs_stage2=3),
    '... and 6 stage-2 epochs instead of 3':
        dict(dense_cross=True, tau_cross_2d=0.5, min_class_recall=0.2, epochs_stage2=6),
    "each network cross-trains on both networks' probabilities multiplied (fused targets), at every pixel with depth, from 0.5":
        dict(dense_cross=True, tau_cross_2d=0.5, min_class_recall=0.0, fused_targets=True, epochs_stage2=3),
    # thresholds above 1: no network overrules a label, both learn the fusion's labels as they learnt the pseudo-labels
    "both networks learn the frozen stage-1 networks' late fusion (offline labels in place of the pseudo-labels; no self- or cross-training)":
        dict(targets='stage1_fusion', tau_self=2.0, tau_cross=2.0, tau_cross_2d=2.0, dense_cross=False, min_class_recall=0.0, epochs_stage2=3),
    "... new networks (initialised as stage 1's) learn it, for 13 epochs at the full learning rate (students, not fine-tuning)":
        dict(targets='stage1_fusion', fresh=True, tau_self=2.0, tau_cross=2.0, tau_cross_2d=2.0, dense_cross=False, min_class_recall=0.0,
             epochs_stage2=13, stage2_lr_scale=1.0),
    # the same students with no latent consistency (and so no projection heads): alone on these labels the 3D network
    # reaches more than it does as a student beside the 2D one (ceilings); is it the cosine to the image features?
    "... the same students without the latent loss (lambda_latent 0)":
        dict(targets='stage1_fusion', fresh=True, tau_self=2.0, tau_cross=2.0, tau_cross_2d=2.0, dense_cross=False, min_class_recall=0.0,
             epochs_stage2=13, stage2_lr_scale=1.0, lambda_latent=0.0),
    # the package's `students`: new networks learn the stage-1 fusion's labels, with no latent loss (the row above)
    "students (the package's `students`), where the fusion knows the class (students_min_recall 0.2), else the pseudo-label":
        dict(students=True, students_min_recall=0.2, dense_cross=False, min_class_recall=0.0, epochs_stage2=13, stage2_lr_scale=1.0),
    # the fusion's labels everywhere: alone on them, the 2D network scores higher on held-out rooms than the demo's 2D
    # student (bench_networks.py --labels fused)
    'students where the fusion overrules every class (students_min_recall 0)':
        dict(students=True, students_min_recall=0.0, dense_cross=False, min_class_recall=0.0, epochs_stage2=13, stage2_lr_scale=1.0),
    # the students above, from a stage 1 whose switch is gated per class: a network learns the other's prediction only
    # on the classes the other recalls at least as often (switch_classes); stage 1 otherwise lets the 3D network, which
    # has lost the toilet and the window, teach the 2D one to lose them too
    'students (students_min_recall 0) of a stage 1 switched per class (switch_classes)':
        dict(students=True, students_min_recall=0.0, dense_cross=False, min_class_recall=0.0, epochs_stage2=13, stage2_lr_scale=1.0,
             stage1=dict(switch_classes=True)),
    # the same, and the 3D student learns the fusion at the points no view sees as well (there the stage-1 3D network's
    # prediction): without labels there, the 3D student predicts the window, a rare class its class weights raise, on
    # the walls above the views, and the fusion's 3D predictions lose the window with it. Everywhere, or where the
    # stage-1 3D network is as sure as the paper's self-training threshold (tau_self 0.9)
    'students of a stage 1 switched per class, also at the points no view sees (students_unseen 0)':
        dict(students=True, students_min_recall=0.0, dense_cross=False, min_class_recall=0.0, epochs_stage2=13, stage2_lr_scale=1.0,
             students_unseen=0.0, stage1=dict(switch_classes=True)),
    '... only where the stage-1 3D network is sure of them (students_unseen 0.9)':
        dict(students=True, students_min_recall=0.0, dense_cross=False, min_class_recall=0.0, epochs_stage2=13, stage2_lr_scale=1.0,
             students_unseen=0.9, stage1=dict(switch_classes=True)),
    # cheaper students, for the demo's time: fewer epochs, or 2 of a room's views a step in place of 4 (the 2D network
    # costs two thirds of a student step on 2 CPU cores)
    'students for 7 epochs instead of 13':
        dict(students=True, students_min_recall=0.2, dense_cross=False, min_class_recall=0.0, epochs_stage2=7, stage2_lr_scale=1.0),
    'students with 2 views a step instead of 4':
        dict(students=True, students_min_recall=0.2, dense_cross=False, min_class_recall=0.0, epochs_stage2=13, stage2_lr_scale=1.0,
             views_per_step=2),
    # its own stage 1 (8 epochs)
    'dense 0.5, min_class_recall 0.2, and 8 + 5 epochs instead of 10 + 3 (the same steps)':
        dict(dense_cross=True, tau_cross_2d=0.5, min_class_recall=0.2, epochs_stage2=5, stage1=dict(epochs_stage1=8)),
}   # a row's `stage1`: overrides of the demo config's stage 1 (its own stage-1 run); `targets`: what stage 2 learns
    # instead of the pseudo-labels (bench_networks.stage1_fusion's labels)


def _stage1_dir(s: 'Setting', seed: int, over: dict | None = None) -> tuple:
    "`_stage1`'s cache folder and config: the demo config (`over` applied, its stage-2 fields at their defaults, no stage 2) for `seed`."
    from labelfree.train.cns import CNSConfig, load_config
    base = CNSConfig()
    cfg = load_config(s.config, [f'seed={seed}']).update(proj_dim=s.feats.dim, **{k: getattr(base, k) for k in STAGE2_FIELDS})
    cfg = cfg.update(**(over or {}), epochs_stage2=0)
    return CACHE / f'stage1-{_hash([_changed(asdict(cfg)), s.key])}', cfg


def _stage1(s: 'Setting', seed: int, over: dict | None = None) -> Path:
    "The demo config's stage 1 (`over` applied, its stage-2 fields at their defaults, no stage 2) for `seed`: trained once, cached."
    from labelfree.data.io import atomic_path
    from labelfree.train.cns import train_cns
    d, cfg = _stage1_dir(s, seed, over)
    if not (d / 'trained.json').exists():
        print(f'  stage 1, seed {seed} -> {d}', flush=True)
        t = time.perf_counter()
        train_cns(cfg, s.train, None, d, resume=True, progress=False)
        with atomic_path(d / 'trained.json') as tmp: Path(tmp).write_text(json.dumps(dict(train_seconds=round(time.perf_counter() - t, 1))))
    return d


def _fusion_train(s: 'Setting', seed: int) -> list:
    "`s`'s training rooms with the stage-1 networks' late fusion (`bench_networks.stage1_fusion`) in place of their pseudo-labels."
    from dataclasses import replace
    from bench_networks import stage1_fusion
    f, m = stage1_fusion(s, seed)
    print(f"  the stage-1 networks' fused labels on the training rooms: 2D {m['2d']:.1f}, 3D {m['3d']:.1f}", flush=True)
    return [replace(ts, labels=replace(ts.labels, refined2d=f[ts.scene.name][0], labels3d=f[ts.scene.name][1]), dense={})
            for ts in s.train]


def _stage2(s: 'Setting', seed: int, over: dict) -> dict:
    """Stage 2 with `over` from `_stage1`'s checkpoint; its networks' and their fusion's scores (cached). `over`'s
    `targets` 'stage1_fusion': stage 2 learns the stage-1 networks' late fusion in place of the pseudo-labels; its
    `fresh`: stage 2 trains new networks (initialised as stage 1's were), class-balanced on its own targets."""
    from labelfree.data.io import atomic_path
    from labelfree.evaluate import evaluate_nets
    from labelfree.metrics import miou
    from labelfree.train.cns import load_checkpoint, train_cns
    from labelfree.train.setup import read_checkpoint
    if over.get('targets') not in (None, 'stage1_fusion'): raise ValueError(f"unknown stage-2 targets {over['targets']!r}")
    over = dict(over); s1 = _stage1(s, seed, over.pop('stage1', None))
    d = CACHE / f'stage2-{_hash([s1.name, over])}'
    done = d / f'scores-{s.val_key}.json'
    if done.exists(): return dict(json.loads(done.read_text()), stage1=s1.name)
    if not (d / 'trained.json').exists():
        d.mkdir(parents=True, exist_ok=True)
        st = read_checkpoint(s1 / 'checkpoint.pt')
        st['config'].update({k: v for k, v in over.items() if k not in ('targets', 'fresh')})    # the same stage 1, these stage-2 settings
        (d / 'log.jsonl').write_text((s1 / 'log.jsonl').read_text())
        t = time.perf_counter()
        print(f'  stage 2 {over}, seed {seed} -> {d}', flush=True)
        train = _fusion_train(s, seed) if over.get('targets') == 'stage1_fusion' else s.train
        if over.get('fresh'):     # students that start where stage 1 started: new networks (seeded by the config, as stage 1's),
            from labelfree.train.cns import CNSConfig, CNSTrainer, class_weights, save_checkpoint   # built from the config, so a
            cfg = CNSConfig(**st['config']); cfg.image_size = tuple(cfg.image_size)            # row may drop the projection heads
            tr = CNSTrainer(cfg, st['n_classes'], st['in_channels'], st['steps_per_epoch'])    # (lambda_latent 0)
            tr.epoch, tr.classes = st['epoch'], st.get('classes')         # stage 1 done: `train_cns` starts stage 2 at this epoch
            tr.class_weight = class_weights([ts.labels.labels3d for ts in train], tr.C, cfg.class_balance)
            save_checkpoint(tr, d / 'checkpoint.pt')
        else:
            for f in ('checkpoint.pt', 'stage1.pt'):              # the stage-1 copy: what `students` learn from
                with atomic_path(d / f) as tmp: torch.save(st, tmp)
        tr = load_checkpoint(d / 'checkpoint.pt')
        train_cns(tr.cfg, train, None, d, resume=True, progress=False)
        from labelfree.demo import machine_info
        with atomic_path(d / 'trained.json') as tmp:
            Path(tmp).write_text(json.dumps(dict(train_seconds=round(time.perf_counter() - t, 1), machine=machine_info()['cpu'])))
    tr = load_checkpoint(d / 'checkpoint.pt')
    res = dict(json.loads((d / 'trained.json').read_text()), over=over)
    res.setdefault('machine', None)                   # trained.json names the CPU it trained on (since the `students` rows)
    res['train_rooms'] = TRAIN_ROOMS_SCORED
    for fuse in (False, True):
        row = 'fused' if fuse else 'networks'
        res[row] = {}
        splits = (('held_out', s.val),) + (() if fuse else (('train', [ts.scene for ts in s.train[:TRAIN_ROOMS_SCORED]]),))
        for split, scenes in splits:
            c = evaluate_nets(tr.net2, tr.net3, scenes, tr.cfg.image_size, fuse=fuse)
            res[row][split] = {dim: round(miou(c[dim]), 2) for dim in ('2d', '3d')}
            if split == 'held_out': res[row]['per_class'] = {dim: _per_class(c[dim]) for dim in ('2d', '3d')}
    with atomic_path(done) as tmp: Path(tmp).write_text(json.dumps(res, indent=1))
    return dict(res, stage1=s1.name)


def _trained_from(over: dict, r: dict) -> str | None:
    """The stage-1 folder that a stage-2 row's seed `r` (recorded before rows named it) trained from: the cached
    stage-2 run of `over` whose scores are `r`'s; None when the cache no longer has it."""
    o = {k: v for k, v in over.items() if k != 'stage1'}
    for p in sorted(CACHE.glob('stage1-*')):
        for f in (CACHE / f'stage2-{_hash([p.name, o])}').glob('scores-*.json'):
            if json.loads(f.read_text())['networks'] == {k: v for k, v in r['networks'].items() if k != 'dying'}: return p.name
    return None


def stage1_marks(s: 'Setting', rows: dict) -> None:
    """Each stage-2 row's seeds name the stage-1 folder they trained from (`stage1`, found in the cache for rows
    recorded before), and each row the folder the current demo config would train it from (`stage1_now`): a seed whose
    two differ trained from an earlier configuration's stage 1."""
    for row in rows.values():
        for seed, r in row['seeds'].items():
            if 'stage1' not in r: r['stage1'] = _trained_from(row['over'], r)
        row['stage1_now'] = {seed: _stage1_dir(s, int(seed), row['over'].get('stage1'))[0].name for seed in row['seeds']}


def lever_rows(table: dict, keys) -> list:
    "The names in `table` that each of `keys` (a whole name, or a part of one name) picks, in `table`'s order; all of them for no keys."
    if not keys: return list(table)
    picked = set()
    for k in keys:
        hit = [k] if k in table else [n for n in table if k in n]      # a whole name picks its row
        if len(hit) != 1: raise SystemExit(f"--rows {k!r}: matches {len(hit)} rows of {len(table)}, not one ({'; '.join(hit or table)})")
        picked.add(hit[0])
    return [n for n in table if n in picked]


def stage2_levers(seeds=(0, 1), rows=None):
    """Each stage-2 lever trained from the same stage-1 checkpoint, per seed: the networks' and their fusion's mIoU on
    the held-out and training rooms, and per class on the held-out rooms (with the classes each erases). `rows`: these
    rows only (`lever_rows`); the JSON's other rows, and a row's other seeds trained with the same settings, are kept."""
    from labelfree.demo import dying_classes
    s = Setting()
    labels = s.label_scores(TRAIN_ROOMS_SCORED)                 # on the training rooms the networks are scored on
    refined = {d: _per_class(s.held_out_confusions[f'ref{d}']) for d in ('2d', '3d')}
    classes = list(s.rooms.vocab.classes)
    prev = (json.loads(OUT.read_text()).get('stage2_levers', {}) if OUT.exists() else {}).get('rows', {})
    out = dict(seeds=list(seeds), classes=classes, labels=labels, refined_per_class=refined, rows={}, **_measured_with(s))
    for name in STAGE2_LEVERS:                               # the rows measured before, in STAGE2_LEVERS' order, if unchanged
        if name in prev and prev[name]['over'] == STAGE2_LEVERS[name]: out['rows'][name] = prev[name]
    stage1_marks(s, out['rows'])
    for name in lever_rows(STAGE2_LEVERS, rows):
        over = STAGE2_LEVERS[name]
        row = out['rows'][name] = dict(over=over, seeds=dict(out['rows'].get(name, {}).get('seeds', {})))
        out['rows'] = {k: out['rows'][k] for k in STAGE2_LEVERS if k in out['rows']}
        for seed in seeds:
            r = _stage2(s, seed, over)
            for k in ('networks', 'fused'):
                pc = {'pseudo_refined': {d: dict(zip(classes, refined[d])) for d in refined},
                      'end': {d: dict(zip(classes, r[k]['per_class'][d])) for d in r[k]['per_class']}}
                r[k]['dying'] = dying_classes(pc, row='end')
            row['seeds'][str(seed)] = r
            stage1_marks(s, {name: row})
            print(f"  {name} / seed {seed}: held-out 2D {r['networks']['held_out']['2d']:.1f} 3D {r['networks']['held_out']['3d']:.1f}; "
                  f"fused 2D {r['fused']['held_out']['2d']:.1f} 3D {r['fused']['held_out']['3d']:.1f}; "
                  f"erased {sorted(set(c for d in r['networks']['dying'].values() for c in d))}", flush=True)
            out['seeds'] = sorted({int(k) for r in out['rows'].values() for k in r['seeds']})   # every row's, this run's and kept
            write_result(OUT, 'stage2_levers', out)
    return out


KNOBS = {  # row: the data section's overrides, for the training and the held-out rooms alike (the generator's and
    # simulated CLIP's knobs); everything else is the demo config, stage 2 included
    "the demo's rooms and labels": {},
    'cleaner labels (severity 0.3; the demo: 0.5)': dict(severity=0.3),
    'noisier labels (severity 0.8; the demo: 0.5)': dict(severity=0.8),
    'smaller furniture (object_scale 0.8)': dict(object_scale=0.8),
    'bedrooms, kitchens and bathrooms only (room_types)': dict(room_types=['bedroom', 'kitchen', 'bathroom']),
}


def _demo_stage2() -> dict:
    "The demo config's stage-2 settings as `_stage2` takes them (the fields the stage-2 lever rows set, and any other it changes)."
    from labelfree.train.cns import CNSConfig, load_config
    demo, base = load_config('demo'), CNSConfig()
    over = {k: getattr(demo, k) for k in ('dense_cross', 'tau_cross_2d', 'min_class_recall', 'epochs_stage2')}
    return over | {k: getattr(demo, k) for k in STAGE2_FIELDS if k not in over and getattr(demo, k) != getattr(base, k)}


def _per_class(conf) -> list:
    "Per-class IoU (%) from a confusion matrix, None for a class absent from the rooms and the predictions."
    from labelfree.metrics import iou
    return [None if np.isnan(x) else round(100 * float(x), 1) for x in iou(conf)]


def knob_rows(part: dict) -> dict:
    "The knobs part's rows, each run naming the demo config it trained (a run from before runs named theirs: the part's)."
    rows = json.loads(json.dumps(part.get('rows', {})))
    for row in rows.values():
        for r in row['seeds'].values(): r.setdefault('demo_config', part.get('demo_config'))
    return rows


def knobs(seeds=(0,), rows=None):
    """The demo's claims on rooms and labels it was not tuned on: for each knob of the room generator and simulated
    CLIP (`KNOBS`), the demo config trained (stages 1 and 2) on rooms made with it and scored on held-out rooms made
    with it: the labels', the networks' and their fusion's mIoU and per-class IoU, and which of `cns_claims` hold."""
    from labelfree.demo import cns_claims, dying_classes
    from labelfree.metrics import miou
    over = _demo_stage2()
    prev = json.loads(OUT.read_text()).get('knobs', {}) if OUT.exists() else {}
    out = dict(seeds=list(seeds), stage2=over, rows=knob_rows(prev))
    for name in rows or KNOBS:
        s = Setting(data_over=KNOBS[name])
        h = s.held_out_confusions
        classes = list(s.rooms.vocab.classes)
        labels = {f'pseudo_{k}': {d: round(miou(h[f'{p}{d}']), 2) for d in ('2d', '3d')} for k, p in (('raw', 'raw'), ('refined', 'ref'))}
        refined = {d: _per_class(h[f'ref{d}']) for d in ('2d', '3d')}
        row = out['rows'][name] = dict(data=KNOBS[name], labeler=s.clip.name, labels=labels, refined_per_class=refined,
                                       classes=classes, seeds=dict(out['rows'].get(name, {}).get('seeds', {})))   # other seeds' runs kept
        for seed in seeds:
            r = _stage2(s, seed, over)
            m = dict(labels, cns_stage2=r['networks']['held_out'], cns_stage2_fused=r['fused']['held_out'])
            nan = lambda v: None if v is None or v != v else v          # score files cached before `_stage2` wrote None: NaN
            pc = {'pseudo_refined': {d: dict(zip(classes, refined[d])) for d in refined}} | {
                k: {d: {c: nan(v) for c, v in zip(classes, r[net]['per_class'][d])} for d in ('2d', '3d')}
                for k, net in (('cns_stage2', 'networks'), ('cns_stage2_fused', 'fused'))}
            row['seeds'][str(seed)] = dict(networks=r['networks']['held_out'], fused=r['fused']['held_out'],
                                           train=r['networks']['train'], per_class={k: pc[k] for k in ('cns_stage2', 'cns_stage2_fused')},
                                           claims=cns_claims(m, pc), erased=dying_classes(pc),
                                           erased_fused=dying_classes(pc, row='cns_stage2_fused'), train_seconds=r['train_seconds'],
                                           machine=r.get('machine'), demo_config=_measured_with(s)['demo_config'])
            g = row['seeds'][str(seed)]
            print(f"  {name} / seed {seed}: refined labels 2D {labels['pseudo_refined']['2d']:.1f} 3D {labels['pseudo_refined']['3d']:.1f}; "
                  f"networks 2D {g['networks']['2d']:.1f} 3D {g['networks']['3d']:.1f}; fused 2D {g['fused']['2d']:.1f} 3D {g['fused']['3d']:.1f}; "
                  f"claims not held: {[k for k, v in g['claims'].items() if not v]}", flush=True)
            rows_in_order = {k: out['rows'][k] for k in KNOBS if k in out['rows']}     # KNOBS' order, then rows it no longer has
            out['rows'] = rows_in_order | {k: v for k, v in out['rows'].items() if k not in rows_in_order}
            write_result(OUT, 'knobs', dict(out, demo_config=_measured_with(s)['demo_config']))
    return out


def _label_per_class(s: 'Setting') -> list:
    "Refined 2D pseudo-labels' per-class IoU (%) on the held-out rooms."
    return _per_class(s.held_out_confusions['ref2d'])


def step_ratio(repeats: int = 30, device: str = 'cpu'):
    from labelfree.scene import SCANNET20
    from labelfree.data.procedural import ProceduralScenes
    from labelfree.labels import pseudo_label_scene
    from labelfree.models.minkunet import single_blas_thread, sparse_batch
    from labelfree.models.minkunet import point_inputs
    from labelfree.models.deeplab import resize_labels, view_images
    from labelfree.train.cns import CNSTrainer, load_config, prepare
    from labelfree.demo import demo_models
    from labelfree.demo import machine_info
    clip, sam, feats, _ = demo_models(SCANNET20, device=device)   # the demo's models (the ImageNet teacher's features without SAM weights)
    config = 'demo' if device == 'cpu' else 'demo_gpu'
    cfg = load_config(config, ['warmup_epochs=0', 'p_switch=0.5', 'augment=false', f'proj_dim={feats.dim}', f'device={device}'])  # no rotation: same input
    s = ProceduralScenes()[0]
    pl = pseudo_label_scene(s, clip, sam, feats)
    ts = prepare(s, pl, pl.features)
    tr = CNSTrainer(cfg, 20, point_inputs(s).shape[1])
    views = [0, 5, 10, 15][:cfg.views_per_step]
    rng = np.random.default_rng(0)
    dev = tr.device
    sync = torch.cuda.synchronize if dev.type == 'cuda' else (lambda: None)
    def cns(): tr.step(ts, views, rng); sync()
    y3 = torch.from_numpy(pl.labels3d.astype(np.int64)).to(dev)
    def unet_logits():
        b = sparse_batch([s.points.xyz], [point_inputs(s)], cfg.voxel_size)
        logits, _ = tr.net3.unet(tr.net3.unet.ME.SparseTensor(b.feats.to(dev), coordinates=b.coords.to(dev)))
        return logits.F[b.inverse.to(dev)]
    def bare():
        tr.net2.train(); tr.net3.train()
        x = view_images(s, views, tuple(cfg.image_size)).to(dev)
        y2 = resize_labels([pl.labels2d[v] for v in views], cfg.image_size).to(dev)
        l2 = F.cross_entropy(tr.net2.net((x - tr.net2.mean) / tr.net2.std)['out'], y2, ignore_index=255)      # torchvision's own forward, no heads
        l3 = F.cross_entropy(unet_logits(), y3, ignore_index=255)
        tr.opt.zero_grad(); (l2 + l3).backward(); tr.opt.step(); sync()
    def bare3d():
        tr.opt.zero_grad(); F.cross_entropy(unet_logits(), y3, ignore_index=255).backward(); sync()
    one = single_blas_thread(lambda f: f())          # as the training loops run
    runs = {'cns': lambda: one(cns), 'bare': lambda: one(bare), 'bare3d_one_blas_thread': lambda: one(bare3d), 'bare3d_default_blas': bare3d}
    times = {k: [] for k in runs}
    for f in runs.values(): f()                          # warm-up
    for _ in range(repeats):                             # interleaved, so background load hits all alike
        for name, f in runs.items():
            t = time.perf_counter(); f(); times[name].append(time.perf_counter() - t)
    # the ratio of each CNS step to the bare step right after it: a shared machine's speed drifts by a quarter within
    # minutes, which a ratio of medians taken over the whole loop carries into the figure; adjacent steps share it
    pair = [c / b for c, b in zip(times['cns'], times['bare'])]
    res = {k: statistics.median(v) for k, v in times.items()}
    print(f"  (median of {repeats} interleaved steps each)")
    print(f"  MinkUNet34 step {res['bare3d_one_blas_thread']:.3f} s with one BLAS thread (the training loops' setting), "
          f"{res['bare3d_default_blas']:.3f} s with BLAS at its default threads beside torch's")
    ratio = statistics.median(pair)
    q1, _, q3 = statistics.quantiles(pair, n=4)
    print(f"  CNS step {res['cns']:.3f} s vs bare MinkUNet34 + DeepLabV3 step {res['bare']:.3f} s: ratio {ratio:.2f} (median of adjacent "
          f"pairs, quartiles {q1:.2f}-{q3:.2f}; target <= 1.15: {'met' if ratio <= 1.15 else 'NOT met'}); {config} config on {dev}, "
          f"{len(views)} views, {len(s.points):,} points")
    out = dict(seconds={k: round(v, 4) for k, v in res.items()}, ratio=round(ratio, 3), ratio_quartiles=[round(q1, 3), round(q3, 3)], target=1.15, repeats=repeats, config=config,
               device=str(dev), views=len(views), points=len(s.points), machine=machine_info(), **profile_step(tr, ts, views, sync))
    write_result(OUT, 'step' if dev.type == 'cpu' else f'step_{dev.type}', out)
    return out


def profile_step(tr, ts, views, sync, steps: int = 3) -> dict:
    "Where a CNS step's time goes: torch.profiler's self time per operator over a few steps, the ten largest, in ms a step."
    from torch.profiler import ProfilerActivity, profile
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if tr.device.type == 'cuda' else [])
    rng = np.random.default_rng(1)
    with profile(activities=acts) as prof:
        for _ in range(steps): tr.step(ts, views, rng); sync()
    ev = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)[:10]
    return dict(profile_ms_per_step={e.key: round(e.self_cpu_time_total / 1000 / steps, 1) for e in ev})


def demo_time(seed: int = 0):
    "`labelfree demo` as a fresh clone runs it (seed 0: the figures the README renders; another seed: `demo_seeds`)."
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        over = [f'seed={seed}'] if seed else []                 # the demo's config overrides (key=value)
        r = subprocess.run([str(Path(sys.executable).parent / 'labelfree'), 'demo', '--out', d, *over], capture_output=True, text=True,
                           env={**__import__('os').environ, 'LABELFREE_CACHE': f'{d}/cache'})       # a fresh clone's run: no cached scenes
        wall = time.perf_counter() - t
        if r.returncode: print(r.stderr[-2000:]); return
        rep = json.loads((Path(d) / 'report.json').read_text())
    res = dict(wall_s=round(wall, 1), peak_rss_mb=rep['peak_rss_mb'], timings_s=rep['timings_s'], miou=rep['miou'], gains=rep['gains'],
               claims=rep['claims'], dying_classes=rep['dying_classes'], dying_classes_fused=rep['dying_classes_fused'],
               per_class=rep['per_class'], machine=rep['machine'])
    if seed:
        res = dict(seed=seed, **res)
        prev = json.loads(OUT.read_text()).get('demo_seeds', {}) if OUT.exists() else {}
        write_result(OUT, 'demo_seeds', {**prev, str(seed): res})
    else: write_result(OUT, 'demo', res)
    print(f"  labelfree demo: {wall:.0f} s wall (target <= 900: {'met' if wall <= 900 else 'NOT met'}), peak RSS {rep['peak_rss_mb']:.0f} MB "
          f"(target <= 4096: {'met' if rep['peak_rss_mb'] <= 4096 else 'NOT met'}); stage-2 gains over raw / refined pseudo-labels: "
          f"2D {rep['gains']['stage2_over_raw']['2d']:+.1f} / {rep['gains']['stage2_over_refined']['2d']:+.1f}, "
          f"3D {rep['gains']['stage2_over_raw']['3d']:+.1f} / {rep['gains']['stage2_over_refined']['3d']:+.1f} points")
    print(f"  machine: {rep['machine']}")


def one_run(sets, seed=0):
    from labelfree.train.setup import parse_overrides
    over = parse_overrides(sets)
    r = Setting().run('run ' + ' '.join(sets), seed, **over)
    print(f"  seed {seed}, {' '.join(sets) or 'the demo config'}: trained in {r['train_seconds']:.0f} s")
    for k in ('stage1', 'stage2'):
        if k in r: print(f"  {k}: held-out 2D {r[k]['held_out']['2d']:.1f} 3D {r[k]['held_out']['3d']:.1f}; "
                         f"training rooms 2D {r[k]['train']['2d']:.1f} 3D {r[k]['train']['3d']:.1f}")
    if 'pairs' in r: print('  stage-1 accuracy on the pairs (%): ' + ', '.join(f'{k} {v}' for k, v in r['pairs'].items() if k != 'pairs'))
    return r


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument('--only', nargs='+', choices=['step', 'ablation', 'sweep', 'demo', 'run', 'levers2d', 'ceilings', 'stage2', 'knobs'], default=['step', 'ablation', 'sweep', 'demo'])
    ap.add_argument('--set', nargs='*', default=[], metavar='key=value', help='run: config overrides of the demo config')
    ap.add_argument('--seeds', nargs='+', type=int, default=[0, 1])
    ap.add_argument('--device', default='cpu', help='step: the device the CNS and bare steps run on (cpu, cuda)')
    ap.add_argument('--knobs', nargs='+', choices=list(KNOBS), help='knobs: these rows only (all of KNOBS if not given)')
    ap.add_argument('--rows', nargs='+', metavar='PART', help='stage2, levers2d, ceilings: the rows whose names hold these words only, the others kept as measured (all rows if not given)')
    ap.add_argument('--mixes', nargs='+', type=float, default=[0.0, 0.5, 0.75, 1.0])
    a = ap.parse_args()
    print(__doc__.strip().splitlines()[0])
    if 'step' in a.only: step_ratio(device=a.device)
    if 'ablation' in a.only: ablation(a.seeds)
    if 'sweep' in a.only: sweep(a.mixes, a.seeds[0])
    if 'demo' in a.only:
        for seed in a.seeds: demo_time(seed)
    if 'run' in a.only: one_run(a.set, a.seeds[0])
    if 'levers2d' in a.only: levers_2d(rows=a.rows)
    if 'ceilings' in a.only: ceilings(a.rows)
    if 'stage2' in a.only: stage2_levers(a.seeds, a.rows)
    if 'knobs' in a.only: knobs(a.seeds[:1] if a.seeds == [0, 1] else a.seeds, a.knobs)
