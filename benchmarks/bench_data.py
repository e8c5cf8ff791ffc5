"""Default procedural set (8 scenes x 20 views at 320x240): generation time and size, and reading it back.

Generates into a fresh temporary cache, so the figure is the cold cost a new user pays once.
"""
import tempfile
import time
from pathlib import Path

from labelfree.data.procedural import ProceduralScenes


def folder_size(p: Path) -> int:
    return sum(f.stat().st_size for f in p.rglob('*') if f.is_file())


if __name__ == '__main__':
    print(__doc__.strip().splitlines()[0])
    with tempfile.TemporaryDirectory() as d:
        ds = ProceduralScenes(cache_dir=d)
        t0 = time.perf_counter()
        scenes = list(ds)
        t1 = time.perf_counter()
        again = list(ProceduralScenes(cache_dir=d))
        t2 = time.perf_counter()
        n_pts = sum(len(s.points) for s in scenes)
        n_views = sum(len(s.views) for s in scenes)
        print(f'  generate + write: {t1 - t0:.1f} s for {len(scenes)} scenes ({(t1 - t0) / len(scenes):.2f} s a scene)')
        print(f'  read from cache:  {t2 - t1:.1f} s')
        print(f'  size: {n_pts:,} points ({n_pts // len(scenes):,} a scene), {n_views} views, '
              f'{folder_size(ds.root) / 2**20:.1f} MiB on disk')
        assert [len(s.points) for s in again] == [len(s.points) for s in scenes]
