"""Every data card has complete front matter, lists its vocabulary's classes exactly, and names files that exist;
a model card names the installed weights file and its SHA-256."""
import hashlib
import importlib.util
import re
from pathlib import Path

import pytest
import yaml

from labelfree.scene import VOCABULARIES
from labelfree.data.samples import SAMPLES, sample_dir

ALL = sorted(p for p in (Path(__file__).resolve().parent.parent / 'data_cards').glob('*.md') if p.name != 'README.md')
REQUIRED = {'name', 'kind', 'dataset', 'vocabulary', 'classes', 'licence', 'source', 'citation'}
MODEL_REQUIRED = {'name', 'kind', 'model', 'licence', 'source', 'package', 'file', 'sha256', 'citation'}


def front_matter(path: Path) -> dict:
    m = re.match(r'^---\n(.*?)\n---\n', path.read_text(), re.S)
    assert m, f'{path.name}: no YAML front matter'
    return yaml.safe_load(m.group(1))


def _kind(path):
    m = re.search(r'^kind:\s*(\S+)', path.read_text(), re.M)
    return m.group(1) if m else None

CARDS = [p for p in ALL if _kind(p) != 'model']
MODEL_CARDS = [p for p in ALL if _kind(p) == 'model']


@pytest.mark.parametrize('card', MODEL_CARDS, ids=lambda p: p.name)
def test_model_card(card):
    fm = front_matter(card)
    assert MODEL_REQUIRED <= fm.keys(), f'{card.name}: missing {MODEL_REQUIRED - fm.keys()}'
    top = fm['file'].split('/')[0]
    spec = importlib.util.find_spec(top)
    assert spec is not None, f"{card.name}: package {fm['package']} is not installed"
    path = Path(spec.origin).parent.parent / fm['file']
    assert path.is_file(), f'{card.name}: {path} missing'
    assert hashlib.sha256(path.read_bytes()).hexdigest() == fm['sha256'], f'{card.name}: {path} differs from the recorded file'


def test_model_cards_exist():
    assert {front_matter(c)['name'] for c in MODEL_CARDS} >= {'efficientnet-lite0'}


@pytest.mark.parametrize('card', CARDS, ids=lambda p: p.name)
def test_card(card):
    fm = front_matter(card)
    assert REQUIRED <= fm.keys(), f'{card.name}: missing {REQUIRED - fm.keys()}'
    assert fm['kind'] in ('dataset', 'sample')
    vocab = VOCABULARIES[fm['vocabulary']]
    assert tuple(fm['classes']) == vocab.classes, f"{card.name}: classes differ from {vocab.name}"
    if fm['kind'] == 'sample':
        for f in fm['files']:
            assert (sample_dir(fm['name']) / f).is_file(), f'{card.name}: {f} is not in the package'


def test_every_sample_has_a_card():
    names = {front_matter(c)['name'] for c in CARDS if front_matter(c)['kind'] == 'sample'}
    assert names == set(SAMPLES)


def test_cards_cover_the_vocabularies():
    assert {front_matter(c)['vocabulary'] for c in CARDS} >= set(VOCABULARIES)
