"The tiny CNS set-up the multi-process tests run (`labelfree.test_utils`): imported by the scripts they write, so the fixture lives once."
from script_setup import setup_lines

from labelfree.test_utils import TINY_CNS, tiny_labelled
from labelfree.train.cns import CNSConfig, prepare


def tiny_setup(n_scenes: int):
    "Tiny rooms, their prepared training scenes and the tiny CNS config."
    labelled = tiny_labelled(n_scenes)
    return [s for s, _, _ in labelled], [prepare(*x) for x in labelled], CNSConfig(**TINY_CNS)


# The first lines of the scripts the multi-process tests write and run: imports only.
SETUP = setup_lines('from tiny_cns import tiny_setup', 'from labelfree.evaluate import evaluate_nets', 'from labelfree.train.cns import train_cns',
                    'from labelfree.train.core import init_distributed', 'from labelfree.metrics import miou')
