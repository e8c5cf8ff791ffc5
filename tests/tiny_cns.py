"Source of a tiny CNS training setup, shared by the tests that run it in separate processes."
SETUP = r'''
import json, sys, torch
from labelfree.core import SCANNET20
from labelfree.data.procedural import make_scene
from labelfree.labels import pseudo_label_scene
from labelfree.vfm.simulated import SimulatedCLIP, SimulatedSAM, SimulatedSAMFeatures
from labelfree.train.cns import CNSConfig, init_distributed, prepare, train_cns, evaluate_nets
from labelfree.metrics import miou
def tiny_setup(n_scenes):
    scenes = [make_scene(5, i, n_views=4, width=80, height=60, points_per_m2=150) for i in range(n_scenes)]
    feats = SimulatedSAMFeatures(dim=32)
    train = [prepare(s, pseudo_label_scene(s, SimulatedCLIP(SCANNET20), SimulatedSAM()), [feats(s, i) for i in range(4)]) for s in scenes]
    cfg = CNSConfig(backbone_2d='efficientnet_lite0', image_size=(60, 80), voxel_size=0.2, width_3d=0.25, proj_dim=32,
                    epochs_stage1=1, epochs_stage2=1, views_per_step=2, optimizer='adamw', lr_2d=1e-3, lr_3d=1e-3, device='cpu')
    return scenes, train, cfg
'''
