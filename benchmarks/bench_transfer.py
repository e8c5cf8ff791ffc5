"""2D -> 3D label transfer at ScanNet scale: ~250k points x 60 RGB-D views at 640x480 (depth test + vote).

Times labelfree's `point_pixel_pairs` + `vote` against a straightforward per-camera NumPy version (project every
point into every camera in float64, test bounds and depth, add votes with np.add.at), on the same procedural scene,
each in a fresh one-thread process, with the process's peak memory. Targets: <= 0.45 s and <= 2 GB on one thread.
"""
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

THREADS = {v: '1' for v in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS', 'NUMEXPR_NUM_THREADS')}


def scene(cache):
    from labelfree.data.procedural import ProceduralScenes
    return ProceduralScenes(n_scenes=1, seed=2024, n_views=60, width=640, height=480, points_per_m2=2600, cache_dir=cache)[0]


def straightforward(xyz, views, C, tol_abs=0.05, tol_rel=0.02, min_depth=0.1):
    votes = np.zeros((len(xyz), C), np.int64)
    X = np.c_[xyz.astype(np.float64), np.ones(len(xyz))]
    for v in views:
        cam = X @ v.world2cam.T
        z = cam[:, 2]
        uv = cam[:, :3] @ v.K.T
        with np.errstate(divide='ignore', invalid='ignore'):
            u, w = uv[:, 0] / z, uv[:, 1] / z
        H, W = v.hw
        ok = (z > min_depth) & (u >= 0) & (u < W) & (w >= 0) & (w < H)
        idx = np.flatnonzero(ok)
        r, c = w[idx].astype(int), u[idx].astype(int)
        d = v.depth[r, c] / v.depth_scale
        keep = (d > 0) & (np.abs(z[idx] - d) <= tol_abs + tol_rel * d)
        idx, r, c = idx[keep], r[keep], c[keep]
        np.add.at(votes, (idx, v.labels[r, c]), 1)
    n = votes.sum(1)
    return np.where(n > 0, votes.argmax(1), 255), n


def ours(xyz, views, C):
    from labelfree.geometry import point_pixel_pairs
    from labelfree.labels import vote
    pairs = point_pixel_pairs(xyz, views)
    lab, conf, n = vote(pairs, [v.labels for v in views], C)
    return lab, n


def child(which, cache, repeats=3):
    s = scene(cache)
    f = {'ours': ours, 'straightforward': straightforward}[which]
    xyz, views = s.points.xyz, s.views
    for v in views: v.labels = v.labels.astype(np.uint8)
    times = []
    for _ in range(repeats):
        t = time.perf_counter(); lab, n = f(xyz, views, 20); times.append(time.perf_counter() - t)
    np.save(Path(cache) / f'{which}.npy', lab)
    print(json.dumps(dict(median_s=statistics.median(times), points=len(xyz), views=len(views), seen=int((n > 0).sum()),
                          peak_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)))


if __name__ == '__main__':
    if len(sys.argv) > 1 and sys.argv[1] == '--child':
        child(sys.argv[2], sys.argv[3]); sys.exit()
    print(__doc__.strip().splitlines()[0])
    with tempfile.TemporaryDirectory() as cache:
        t = time.perf_counter(); s = scene(cache)
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f'  scene: {len(s.points):,} points, {len(s.views)} views {s.views[0].hw[1]}x{s.views[0].hw[0]} (generated in {time.perf_counter() - t:.0f} s)')
        res = {}
        for which in ('straightforward', 'ours'):
            out = subprocess.run([sys.executable, __file__, '--child', which, cache], env={**os.environ, **THREADS},
                                 capture_output=True, text=True, check=True)
            res[which] = json.loads(out.stdout.strip().splitlines()[-1])
        same = np.array_equal(np.load(Path(cache) / 'ours.npy'), np.load(Path(cache) / 'straightforward.npy'))
        for which, r in res.items():
            print(f"  {which:16s} {r['median_s']:.3f} s per scene (1 thread, median of 3), peak RSS {r['peak_mb']:.0f} MB "
                  f"(the loaded scene itself: ~{base:.0f} MB), {r['seen']:,} points seen")
        r = res['ours']
        print(f"  speed-up {res['straightforward']['median_s'] / r['median_s']:.2f}x; identical labels: {same}; "
              f"targets <= 0.45 s: {'met' if r['median_s'] <= 0.45 else 'NOT met'}, <= 2 GB: {'met' if r['peak_mb'] <= 2048 else 'NOT met'}")
