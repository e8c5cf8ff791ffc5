"""Generate README.md from nbs/index.ipynb (nbdev_readme needs Quarto, which cannot be installed here).

Markdown cells are copied as they are; code cells become fenced Python blocks; cells starting with `#| hide`
are left out; cells starting with `#| echo: false` (output only, as on the docs site) are run, in order, in one
namespace, and their last expression's Markdown (figures rendered from a benchmark's JSON) is inserted. `--check` exits 1 if README.md differs from what would be generated.
"""
import ast
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
HEADER = '<!-- Generated from nbs/index.ipynb by tools/make_readme.py: edit the notebook, not this file. -->\n\n'


def output_markdown(src: str, ns: dict) -> str:
    "Run a cell's source in `ns`; its last expression's Markdown (`_repr_markdown_`, else `str`)."
    tree = ast.parse(src)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    exec(compile(tree, '<readme cell>', 'exec'), ns)
    if last is None: return ''
    out = eval(compile(ast.Expression(last.value), '<readme cell>', 'eval'), ns)
    return out._repr_markdown_() if hasattr(out, '_repr_markdown_') else str(out)


def render(nb_path: Path = ROOT / 'nbs' / 'index.ipynb') -> str:
    nb = nbformat.read(nb_path, as_version=4)
    parts, ns = [], {}
    for cell in nb.cells:
        src = cell.source.strip()
        if not src or src.startswith('#| hide') or src.startswith('#|hide'):
            continue
        if cell.cell_type == 'code' and src.replace(' ', '').startswith('#|echo:false'):
            parts.append(output_markdown(src, ns).strip())
            continue
        parts.append(src if cell.cell_type == 'markdown' else f'```python\n{src}\n```')
    return HEADER + '\n\n'.join(parts) + '\n'


if __name__ == '__main__':
    text, readme = render(), ROOT / 'README.md'
    if '--check' in sys.argv:
        if not readme.exists() or readme.read_text() != text:
            sys.exit('README.md is out of date with nbs/index.ipynb: run `python tools/make_readme.py`')
    else:
        readme.write_text(text)
