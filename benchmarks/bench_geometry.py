"""Projection + visibility on the bundled nuScenes sample (34,688 points, 6 cameras).

Prints the median (and 90th percentile) over repeated runs of `point_pixel_pairs`, once with every thread pool
limited to one thread and once with the machine's defaults. Target: <= 5 ms per sweep on one thread.
"""
import json
import os
import statistics
import subprocess
import sys
import time

THREAD_VARS = ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS', 'NUMEXPR_NUM_THREADS')
TARGET_MS = 5.0


def measure(repeats: int = 300) -> dict:
    from labelfree.data.samples import load_sample
    from labelfree.geometry import point_pixel_pairs
    scene = load_sample('nuscenes-mini')
    run = lambda: point_pixel_pairs(scene.points.xyz, scene.views, min_depth=scene.meta['min_depth'])
    for _ in range(10): pairs = run()
    times = []
    for _ in range(repeats):
        t = time.perf_counter(); run(); times.append((time.perf_counter() - t) * 1e3)
    return dict(median_ms=statistics.median(times), p90_ms=sorted(times)[int(0.9 * len(times))],
                pairs=len(pairs), points=len(scene.points), views=len(scene.views))


if __name__ == '__main__':
    if '--child' in sys.argv:
        print(json.dumps(measure())); sys.exit()
    print(__doc__.strip().splitlines()[0])
    for label, extra in (('1 thread', {v: '1' for v in THREAD_VARS}), (f'all threads ({os.cpu_count()} cores)', {})):
        env = {k: v for k, v in os.environ.items() if k not in THREAD_VARS} | extra
        out = subprocess.run([sys.executable, __file__, '--child'], env=env, capture_output=True, text=True, check=True)
        r = json.loads(out.stdout)
        verdict = '' if extra == {} else (f'  (target <= {TARGET_MS} ms: ' + ('met' if r['median_ms'] <= TARGET_MS else 'NOT met') + ')')
        print(f"  {label:24s} median {r['median_ms']:.2f} ms, p90 {r['p90_ms']:.2f} ms per sweep "
              f"({r['points']} points x {r['views']} cameras -> {r['pairs']} pairs){verdict}")
