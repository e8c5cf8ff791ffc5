"""The benches reuse a network run only if it trained the same way: `bench_cns.network_record` matches a cached
`bench_networks.py` record on every option that changes training, reads options a record predates as their defaults,
lets a run with a moving-average readout serve a request without one (never the reverse), and serves a run on the
stage-1 fusion only from the stage-1 networks it would learn from now."""
import json
import pytest
import sys
from pathlib import Path
from types import SimpleNamespace

BENCH = Path(__file__).resolve().parents[1] / 'benchmarks'
sys.path.insert(0, str(BENCH))

import bench_cns  # noqa: E402
import bench_networks  # noqa: E402


def _record(argv, **scores):
    "A record as bench_networks.py writes it for `argv` (its options, the last step), with `scores`."
    a = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(bench_networks.parser().parse_args(argv)).items()}
    return dict(a, step=a['steps'], sec_per_step=0.5, **scores)


def test_network_record(tmp_path, monkeypatch):
    runs = []
    monkeypatch.setattr(bench_networks, 'main', lambda argv: runs.append(argv) or {'new': True})
    log = tmp_path / 'networks.jsonl'
    old = _record(['--net', '2d', '--steps', '624'], held_out=30.0)
    for k in ('ema', 'data', 'freeze_stages'): old.pop(k)           # written before these options existed
    ema = _record(['--net', '2d', '--steps', '624', '--freeze-stages', '3', '--ema', '0.995'], held_out=33.0, ema_held_out=34.0)
    log.write_text('\n'.join(json.dumps(r) for r in (old, ema)) + '\n')
    get = lambda *argv: bench_cns.network_record(list(argv), log)
    assert get('--net', '2d', '--steps', '624')['held_out'] == 30.0                      # the predating record, at its defaults
    assert get('--net', '2d', '--steps', '624', '--freeze-stages', '3')['held_out'] == 33.0   # an EMA run serves a plain one
    assert get('--net', '2d', '--steps', '624', '--freeze-stages', '3', '--ema', '0.995')['ema_held_out'] == 34.0
    assert not runs
    for argv in (['--net', '2d', '--steps', '624', '--ema', '0.995'],                 # a plain run cannot give an EMA readout
                 ['--net', '2d', '--steps', '1248'],                                   # other steps, other learning rate, other rooms
                 ['--net', '2d', '--steps', '624', '--lr', '6e-4'],
                 ['--net', '2d', '--steps', '624', '--data', 'n_scenes=96']):
        assert get(*argv) == {'new': True}
    assert len(runs) == 4 and all(r[-2:] == ['--out', str(log)] for r in runs)         # new runs append to the log


def test_knobs_train_the_demo_stage2():
    "The knob rows train stage 2 as the demo does: `_demo_stage2` over `_stage1`'s reset fields gives the demo config's stage 2."
    from labelfree.train.cns import CNSConfig, load_config
    demo, base, over = load_config('demo'), CNSConfig(), bench_cns._demo_stage2()
    got = {k: over.get(k, getattr(base, k)) for k in bench_cns.STAGE2_FIELDS}
    assert got == {k: getattr(demo, k) for k in bench_cns.STAGE2_FIELDS}
    assert set(bench_cns.KNOBS["the demo's rooms and labels"]) == set()                 # the first row: the demo's own rooms
    assert bench_cns._per_class(__import__('numpy').array([[3, 0, 1], [0, 0, 0]])) == [75.0, None]   # an absent class: no IoU


def test_fused_labels_are_their_own_runs(tmp_path, monkeypatch):
    "A run on the stage-1 networks' fused labels serves only a request for them, and `targets` hands them out per room."
    monkeypatch.setattr(bench_networks, 'main', lambda argv: {'new': True})
    monkeypatch.setattr(bench_cns, 'fused_stage1', lambda opts: 'stage1-now')
    log = tmp_path / 'networks.jsonl'
    log.write_text(json.dumps(_record(['--net', '2d', '--steps', '624', '--labels', 'fused'], held_out=38.0, stage1='stage1-now')) + '\n')
    get = lambda *argv: bench_cns.network_record(list(argv), log)
    assert get('--net', '2d', '--steps', '624', '--labels', 'fused')['held_out'] == 38.0
    for other in ('stage1-before', None):       # another stage 1's fusion (another config or rooms), or one not recorded
        log.write_text(json.dumps(_record(['--net', '2d', '--steps', '624', '--labels', 'fused'], held_out=38.0, stage1=other)) + '\n')
        assert get('--net', '2d', '--steps', '624', '--labels', 'fused') == {'new': True}
    assert get('--net', '2d', '--steps', '624') == {'new': True}                        # refined labels: another run
    room = SimpleNamespace(scene=SimpleNamespace(name='r0'), labels=None)
    fused = {'r0': (['maps'], 'points')}
    assert bench_networks.targets(room, 'fused', '2d', 20, fused) == ['maps']
    assert bench_networks.targets(room, 'fused', '3d', 20, fused) == 'points'


def test_stage2_refuses_unknown_targets():
    "A stage-2 lever's `targets` other than the stage-1 fusion is refused before any room is made or trained."
    with pytest.raises(ValueError, match='unknown stage-2 targets'):
        bench_cns._stage2(None, 0, dict(targets='stage2_fusion'))


def test_lever_rows_pick_one_row_each():
    "`--rows` words pick one stage-2 lever each, in the table's order; a word that matches none or several is refused."
    table = {'the paper': 1, 'dense targets': 2, 'dense and longer': 3}
    assert bench_cns.lever_rows(table, None) == list(table)
    assert bench_cns.lever_rows(table, ['longer', 'paper']) == ['the paper', 'dense and longer']
    for words in (['dense'], ['absent']):
        with pytest.raises(SystemExit, match='matches'): bench_cns.lever_rows(table, words)
    for rows in (bench_cns.STAGE2_LEVERS, bench_cns.CEILINGS):          # a whole name picks its row, also one inside others
        assert all(bench_cns.lever_rows(rows, [n]) == [n] for n in rows)


def test_soft_targets_are_their_own_runs(tmp_path, monkeypatch):
    "A run on the fusion's probabilities serves only a request for them; `--soft` is refused where there is no fusion to learn."
    for argv in (['--net', '3d', '--labels', 'fused', '--soft'], ['--net', '2d', '--soft']):
        with pytest.raises(SystemExit, match='--soft'): bench_networks.main(argv)
    monkeypatch.setattr(bench_networks, 'main', lambda argv: {'new': True})
    monkeypatch.setattr(bench_cns, 'fused_stage1', lambda opts: 'stage1-now')
    log = tmp_path / 'networks.jsonl'
    log.write_text(json.dumps(_record(['--net', '2d', '--steps', '624', '--labels', 'fused', '--soft'], held_out=39.0, stage1='stage1-now')) + '\n')
    get = lambda *argv: bench_cns.network_record(list(argv), log)
    assert get('--net', '2d', '--steps', '624', '--labels', 'fused', '--soft')['held_out'] == 39.0
    assert get('--net', '2d', '--steps', '624', '--labels', 'fused') == {'new': True}    # the arg-max: another run


def test_knob_runs_name_their_config():
    # a run kept from before runs recorded their config takes the part's; a run that names its own keeps it
    part = dict(demo_config={'students': False}, rows={
        'old': {'seeds': {'0': {'networks': {}}}},
        'new': {'seeds': {'0': {'networks': {}, 'demo_config': {'students': True}}}}})
    rows = bench_cns.knob_rows(part)
    assert rows['old']['seeds']['0']['demo_config'] == {'students': False}
    assert rows['new']['seeds']['0']['demo_config'] == {'students': True}
    assert 'demo_config' not in part['rows']['old']['seeds']['0']        # the part read is left as it was
    assert bench_cns.knob_rows({}) == {}


def test_stage2_rows_name_their_stage1(tmp_path, monkeypatch):
    """A stage-2 row recorded before rows named their stage 1 is matched to the cached run with its scores; a row whose
    stage 1 is not the one the current demo config trains is told apart (`stage1` against `stage1_now`)."""
    monkeypatch.setattr(bench_cns, 'CACHE', tmp_path)
    over = dict(students=True, stage1=dict(switch_classes=True))
    scores = lambda x: {'held_out': {'2d': x, '3d': 40.0}, 'train': {'2d': 50.0, '3d': 45.0}, 'per_class': {}}
    for s1, x in (('stage1-old', 39.0), ('stage1-other', 41.0)):         # two stage 1s trained this row's stage 2
        d = tmp_path / f"stage2-{bench_cns._hash([s1, {'students': True}])}"
        d.mkdir(parents=True); (tmp_path / s1).mkdir()
        (d / 'scores-v.json').write_text(json.dumps({'networks': scores(x)}))
    monkeypatch.setattr(bench_cns, '_stage1_dir', lambda s, seed, o: (tmp_path / ('stage1-other' if o else 'stage1-base'), None))
    rows = {'row': {'over': over, 'seeds': {'0': {'networks': dict(scores(39.0), dying={})},
                                            '1': {'networks': scores(41.0)}, '2': {'networks': scores(12.0)}}}}
    bench_cns.stage1_marks(None, rows)
    seeds = rows['row']['seeds']
    assert (seeds['0']['stage1'], seeds['1']['stage1'], seeds['2']['stage1']) == ('stage1-old', 'stage1-other', None)
    assert rows['row']['stage1_now'] == {'0': 'stage1-other', '1': 'stage1-other', '2': 'stage1-other'}   # the row's own stage 1
    seeds['0']['stage1'] = 'kept'
    bench_cns.stage1_marks(None, rows)
    assert seeds['0']['stage1'] == 'kept'                                # a recorded name stays
