"The tiny ScaLR set-up the distillation tests run in fresh processes: imported by the scripts they write, so the fixture lives once."
from script_setup import setup_lines

from labelfree.core import SCANNET20
from labelfree.data.procedural import make_scene
from labelfree.train.scalr import ScaLRConfig
from labelfree.vfm.teachers import SimulatedClipTeacher


def tiny_setup(n_train: int, n_val: int, seed: int = 7):
    "Tiny training and held-out rooms, a 32-d simulated CLIP teacher and the tiny distillation config."
    rooms = [make_scene(seed, i, n_views=4, width=80, height=60, points_per_m2=120) for i in range(n_train + n_val)]
    cfg = ScaLRConfig(teacher='simulated-clip:32', voxel_size=0.15, width_3d=0.25, scenes_per_step=1, epochs=6, lr=3e-3,
                      warmup_steps=4, weight_decay=0.01, max_pairs=3000, cache_teacher=True, eval_every=6, device='cpu')
    return rooms[:n_train], rooms[n_train:], SimulatedClipTeacher(SCANNET20, dim=32), cfg


# The first lines of the scripts the distillation tests write and run: imports only.
SETUP = setup_lines('from tiny_scalr import tiny_setup',
                    'from labelfree.train.scalr import prepare_distill, train_distill, distill_cosine, make_student')
