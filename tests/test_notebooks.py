"""Notebooks follow the house layout: `#| default_exp`, exported imports, hidden test imports, title + summary;
module notebooks are numbered so that each imports only from notebooks numbered before it."""
import re
from pathlib import Path

import nbformat
import pytest

NBS = Path(__file__).resolve().parent.parent / 'nbs'
MODULE_NBS = sorted(NBS.glob('[0-9]*.ipynb'))


def module_of(nb) -> str:
    return re.match(r'#\|\s*default_exp\s+(\S+)', nb.cells[0].source).group(1)


@pytest.mark.parametrize('path', MODULE_NBS, ids=lambda p: p.name)
def test_header(path):
    nb = nbformat.read(path, as_version=4)
    c = nb.cells
    assert re.match(r'#\|\s*default_exp\s+\S+', c[0].source), 'first cell: #| default_exp'
    assert c[1].source.startswith('#| export') and 'import' in c[1].source, 'second cell: exported imports'
    assert c[2].source.startswith('#| hide') and 'fastcore.test' in c[2].source, 'third cell: hidden test imports'
    title = c[3]
    assert title.cell_type == 'markdown' and re.match(r'# \S.*\n> \S', title.source), 'fourth cell: # Title / > summary'
    assert all(not o for cell in c if cell.cell_type == 'code' for o in [cell.get('outputs')]), 'outputs are stripped'


def test_imports_follow_numbering():
    order = {module_of(nbformat.read(p, as_version=4)): i for i, p in enumerate(MODULE_NBS)}
    for i, p in enumerate(MODULE_NBS):
        src = '\n'.join(c.source for c in nbformat.read(p, as_version=4).cells if c.cell_type == 'code')
        for mod in re.findall(r'from labelfree\.([\w.]+) import', src):
            assert mod in order, f'{p.name} imports unknown module labelfree.{mod}'
            assert order[mod] <= i, f'{p.name} imports labelfree.{mod}, which comes from a later notebook'   # its own module: in a subprocess test
