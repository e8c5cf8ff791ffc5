"""Dense CLIP modes (MaskCLIP, SCLIP, ClearCLIP, NACLIP): seconds per image, and label quality where weights and 2D labels exist.

1. `speed` (default): seconds per image for each mode, whole image and sliding windows, on the real ViT-B/16
   architecture (random weights unless `--clip-weights` or a cached `--pretrained` tag is there: the architecture
   alone sets the cost) at a 240 x 320 image, short side 448 as the labeler's default. Written to
   benchmarks/results/clip.json under the device's name.
2. `quality` (`--quality --dataset NAME --root PATH`): with real CLIP weights, each mode's pseudo-labels on the
   dataset's first `--scenes` scenes: 2D mIoU against the views' labels and 3D mIoU after the multi-view vote.
   Refused, with the reason, without weights or without 2D labels.
"""
import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from common import result_path, write_result

OUT = result_path('clip')


def _clip(a):
    from labelfree.vfm.clip import WeightsNotFound, load_clip
    try: return load_clip(a.model, a.pretrained, a.clip_weights, device=a.device), True
    except WeightsNotFound: return load_clip(a.model, None, device=a.device), False


def speed(a, repeats=3):
    from labelfree.scene import SCANNET20
    from labelfree.vfm.clip import DENSE_MODES, SCENE_TEMPLATES, DenseCLIP
    clip, real = _clip(a)
    img = np.random.default_rng(0).integers(0, 255, (1, 240, 320, 3), dtype=np.uint8)
    dev = str(next(clip.model.parameters()).device)
    rows = {}
    for window in (None, 224):
        for mode in DENSE_MODES:
            lab = DenseCLIP(clip, SCANNET20, templates=SCENE_TEMPLATES, mode=mode, window=window, stride=112 if window else None)
            lab.scores(img)                                                          # warm-up
            ts = []
            for _ in range(repeats):
                if dev.startswith('cuda'): torch.cuda.synchronize()
                t = time.perf_counter(); lab.scores(img)
                if dev.startswith('cuda'): torch.cuda.synchronize()
                ts.append(time.perf_counter() - t)
            key = mode + (f' window {window}/112' if window else '')
            rows[key] = round(statistics.median(ts), 3)
            print(f'  {key:26s} {rows[key]:.3f} s per 240x320 image (short side 448, median of {repeats})', flush=True)
    res = json.loads(OUT.read_text()).get('speed', {}) if OUT.exists() else {}
    res[dev if dev != 'cpu' else f'cpu ({torch.get_num_threads()} threads)'] = dict(model=clip.name, real_weights=real, seconds_per_image=rows)
    write_result(OUT, 'speed', res)


def quality(a):
    from labelfree.data.datasets import get_dataset
    from labelfree.evaluate import compare_dense_modes, dense_modes_markdown
    from labelfree.vfm.clip import load_clip
    if not a.dataset or not a.root: raise SystemExit('bench_clip --quality needs --dataset NAME --root PATH (a dataset whose views carry 2D labels)')
    clip = load_clip(a.model, a.pretrained, a.clip_weights, device=a.device)              # real weights or a clear error
    ds = get_dataset(a.dataset, a.root)
    scenes = [ds.load(n) for n in ds.names[:a.scenes]]
    if any(v.labels is None for s in scenes for v in s.views):
        raise SystemExit(f'{a.dataset} at {a.root}: some views have no 2D labels, so 2D mIoU cannot be measured')
    res = compare_dense_modes(clip, scenes)
    print(dense_modes_markdown(res))
    write_result(OUT, 'quality', dict(model=clip.name, dataset=a.dataset, scenes=[s.name for s in scenes], miou=res))


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument('--quality', action='store_true', help='label quality per mode (needs real weights and a dataset with 2D labels)')
    ap.add_argument('--model', default='ViT-B-16'); ap.add_argument('--pretrained', default='openai')
    ap.add_argument('--clip-weights', type=Path); ap.add_argument('--device')
    ap.add_argument('--dataset'); ap.add_argument('--root', type=Path); ap.add_argument('--scenes', type=int, default=4)
    a = ap.parse_args()
    print(__doc__.strip().splitlines()[0])
    quality(a) if a.quality else speed(a)
