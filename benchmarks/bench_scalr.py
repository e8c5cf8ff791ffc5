"""ScaLR distillation: time of one distillation step and points per second (demo config, one procedural room).

The step is the whole of `Distiller.step`: teacher features at the chosen pairs (from the in-memory grid cache, as
the demo runs; and once with the cache off, i.e. the teacher recomputed), the sparse student forward and backward,
the AdamW update. Median of repeated steps after a warm-up. Also the teacher alone: the simulated CLIP-like teacher
and a toy DINOv2 of timm's class (random weights; a real ViT-L costs far more, on a GPU).
"""
import statistics
import time

import numpy as np


def main(repeats: int = 5):
    from labelfree.data.procedural import ProceduralScenes
    from labelfree.train.scalr import Distiller, load_scalr_config, prepare_distill
    from labelfree.vfm.teachers import make_teacher
    from labelfree.pipeline import config_data
    cfg = load_scalr_config('scalr_demo', ['device=cpu'])
    data = config_data('scalr_demo')
    ds = ProceduralScenes(n_scenes=1, seed=0, **{k: data[k] for k in ('n_views', 'width', 'height', 'points_per_m2')})
    scene = ds[0]
    ts = prepare_distill(scene)
    teacher = make_teacher(cfg.teacher, vocab=scene.vocab, seed=cfg.seed)
    for cache in (True, False):
        d = Distiller(cfg.update(cache_teacher=cache), ts.inputs.shape[1], teacher.dim, total_steps=1000)
        rng = np.random.default_rng(0)
        for _ in range(2): d.step(teacher, [ts], rng)                       # warm-up (fills the cache)
        times, pts, pairs = [], 0, 0
        for _ in range(repeats):
            t = time.perf_counter(); r = d.step(teacher, [ts], rng); times.append(time.perf_counter() - t)
            pts += r['points']; pairs += r['pairs']
        med = statistics.median(times)
        print(f"  distillation step ({'teacher cached' if cache else 'teacher recomputed'}): {med * 1000:.0f} ms median of {repeats}; "
              f"{pts / sum(times):,.0f} points/s, {pairs / sum(times):,.0f} pairs/s "
              f"({r['points']:,} points, {r['pairs']:,} pairs, {cfg.views_per_scene} of {len(scene.views)} views per step; "
              f"MinkUNet34 width {cfg.width_3d}, {cfg.voxel_size} m voxels, teacher {teacher.name})")
    for spec in ('simulated-clip:64', 'dinov2:tiny'):
        t_ = make_teacher(spec, vocab=scene.vocab, short_side=224)
        t_.grids(scene, 0)
        t = time.perf_counter()
        for v in range(4): t_.grids(scene, v)
        print(f"  teacher {t_.name}: {(time.perf_counter() - t) / 4 * 1000:.0f} ms per {scene.views[0].hw[1]}x{scene.views[0].hw[0]} view")


if __name__ == '__main__':
    main()
