"The tiny CNS set-up the multi-process tests run (`labelfree.test_utils`): imported by the scripts they write, so the fixture lives once."
from pathlib import Path

from labelfree.test_utils import TINY_CNS, tiny_labelled
from labelfree.train.cns import CNSConfig, prepare


def tiny_setup(n_scenes: int):
    "Tiny rooms, their prepared training scenes and the tiny CNS config."
    labelled = tiny_labelled(n_scenes)
    return [s for s, _, _ in labelled], [prepare(*x) for x in labelled], CNSConfig(**TINY_CNS)


# The first lines of the scripts the multi-process tests write and run (`python -c`, torchrun): imports only.
SETUP = (f"import json, sys, torch\nsys.path.insert(0, {str(Path(__file__).resolve().parent)!r})\n"
         "from tiny_cns import tiny_setup\n"
         "from labelfree.train.cns import train_cns, evaluate_nets\nfrom labelfree.train.core import init_distributed\nfrom labelfree.metrics import miou\n")
