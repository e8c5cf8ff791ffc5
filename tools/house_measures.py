"""The house's measures (issue: a house a newcomer reads in one pass): export cells per notebook, library functions
over 50 lines, lines over 120 characters, `add_argument` calls and private names imported across modules.

    python tools/house_measures.py
"""
import ast
import re
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent


def export_cells():
    "(lines, notebook, first code line) of every export cell, largest first."
    cells = []
    for nb in sorted((ROOT / 'nbs').rglob('*.ipynb')):
        for c in nbformat.read(nb, 4).cells:
            if c.cell_type == 'code' and re.match(r'\s*#\|\s*export', c.source):
                lines = c.source.splitlines()
                cells.append((len(lines), nb.relative_to(ROOT / 'nbs').as_posix(), lines[1][:60] if len(lines) > 1 else ''))
    return sorted(cells, reverse=True)


def library():
    "Lines, lines over 120 characters, `add_argument` calls, functions over 50 lines and cross-module private imports."
    out = dict(lines=0, long=0, add_argument=0, functions=[], private=[])
    for f in sorted((ROOT / 'labelfree').rglob('*.py')):
        if f.name == '_modidx.py': continue
        src = f.read_text()
        out['lines'] += len(src.splitlines()); out['long'] += sum(len(l) > 120 for l in src.splitlines())
        out['add_argument'] += src.count('add_argument(')
        for node in ast.walk(ast.parse(src)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > 50:
                out['functions'].append((node.end_lineno - node.lineno + 1, f.name, node.name))
            if isinstance(node, ast.ImportFrom) and (node.module or '').startswith('labelfree'):
                out['private'] += [(f.name, node.module, a.name) for a in node.names
                                   if a.name.startswith('_') and not a.name.startswith('__')]
    return out


if __name__ == '__main__':
    cells = export_cells()
    n = sorted(c[0] for c in cells)
    print(f'export cells: {len(n)}, median {n[len(n) // 2]}, 90th percentile {n[int(0.9 * len(n))]}, largest {n[-1]}, '
          f'over 60 lines: {sum(x > 60 for x in n)}')
    for c in cells[:5]: print('  ', *c)
    lib = library()
    print(f"library: {lib['lines']} lines, {lib['long']} over 120 characters ({100 * lib['long'] / lib['lines']:.1f}%), "
          f"{lib['add_argument']} add_argument calls")
    print('functions over 50 lines:', lib['functions'] or 'none')
    print('private names imported across modules:', lib['private'] or 'none')
