"""Same seed, same config, same machine => the same bits, with two threads: a few CNS steps of the demo's own config
(its networks, input size, voxels, latent loss, switching) in two fresh processes give identical weights."""
import os
import subprocess
import sys

import pytest
from script_setup import setup_lines

pytestmark = pytest.mark.slow          # minutes: `make test-all` and CI run it, `make test` skips it (README, "Developing")

SCRIPT = setup_lines('from labelfree.data.procedural import ProceduralScenes', 'from labelfree.labels import pseudo_label_scene',
                     'from labelfree.demo import demo_models', 'from labelfree.train.cns import load_config, prepare, train_cns') + r'''
import hashlib
torch.set_num_threads(2)
out, cache = sys.argv[1], sys.argv[2]
ds = ProceduralScenes(n_scenes=2, seed=0, n_views=4, cache_dir=cache)
ds.generate(1)                                                   # both runs read the rooms from the cache, as the demo does
labeler, regions, feats, _ = demo_models(ds.vocab)
cfg = load_config('demo', ['warmup_epochs=0', 'p_switch=1.0', 'epochs_stage1=1', 'epochs_stage2=1']).update(proj_dim=feats.dim)
train = []
for s in ds:
    pl = pseudo_label_scene(s, labeler, regions, feats)
    train.append(prepare(s, pl, pl.features))
tr = train_cns(cfg, train, None, out, progress=False)              # 2 steps of stage 1, 2 of stage 2
h = hashlib.sha256()
for net in (tr.net2, tr.net3):
    for k, v in net.state_dict().items(): h.update(k.encode()); h.update(v.detach().cpu().contiguous().numpy().tobytes())
print(json.dumps({'threads': torch.get_num_threads(), 'weights': h.hexdigest()}))
'''


def test_demo_config_steps_bit_identical_on_two_threads(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS='2')
    res = []
    for run in 'ab':
        r = subprocess.run([sys.executable, '-c', SCRIPT, str(tmp_path / run), str(tmp_path / 'cache')], capture_output=True, text=True,
                           env=env)
        assert r.returncode == 0, r.stderr[-3000:]
        res.append(r.stdout.strip().splitlines()[-1])
    assert '"threads": 2' in res[0], res[0]                   # the caller's two threads survive the 3D network's forward passes
    assert res[0] == res[1], res
