"Every data card has complete front matter, lists its vocabulary's classes exactly, and names files that exist."
import re
from pathlib import Path

import pytest
import yaml

from labelfree.core import VOCABULARIES
from labelfree.data.samples import SAMPLES, sample_dir

CARDS = sorted(p for p in (Path(__file__).resolve().parent.parent / 'data_cards').glob('*.md') if p.name != 'README.md')
REQUIRED = {'name', 'kind', 'dataset', 'vocabulary', 'classes', 'licence', 'source', 'citation'}


def front_matter(path: Path) -> dict:
    m = re.match(r'^---\n(.*?)\n---\n', path.read_text(), re.S)
    assert m, f'{path.name}: no YAML front matter'
    return yaml.safe_load(m.group(1))


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
