"""Build a static HTML docs site from the notebooks, offline (Quarto, which nbdev_docs needs, cannot be installed).

Each notebook in nbs/ is executed and rendered to one HTML page with nbconvert; `#| hide` cells are dropped and
nbdev directive lines are removed from the code shown. index.html links the pages in data-flow order.
    python tools/build_docs.py --out _docs
"""
import argparse
import html
import re
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter
from nbconvert.preprocessors import ExecutePreprocessor

ROOT = Path(__file__).resolve().parent.parent
DIRECTIVE = re.compile(r'^#\|.*\n?', re.M)


def page(nb_path: Path, out: Path, timeout: int = 900) -> tuple[str, str]:
    "Execute and render one notebook; return its (title, summary)."
    nb = nbformat.read(nb_path, as_version=4)
    ExecutePreprocessor(timeout=timeout, kernel_name='python3').preprocess(nb, {'metadata': {'path': str(nb_path.parent)}})
    nb.cells = [c for c in nb.cells if not re.match(r'#\|\s*(hide|default_exp)', c.source.strip())]
    for c in nb.cells:
        if c.cell_type == 'code': c.source = DIRECTIVE.sub('', c.source)
    body, _ = HTMLExporter(template_name='lab').from_notebook_node(nb)
    (out / (nb_path.stem + '.html')).write_text(body)
    md = next((c.source for c in nb.cells if c.cell_type == 'markdown' and c.source.startswith('# ')), nb_path.stem)
    title = md.splitlines()[0].lstrip('# ').strip()
    summary = next((l[1:].strip() for l in md.splitlines() if l.startswith('>')), '')
    return title, summary


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', type=Path, default=ROOT / '_docs')
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    nbs = sorted((ROOT / 'nbs').glob('[0-9]*.ipynb'))
    items = []
    for nb in [ROOT / 'nbs' / 'index.ipynb'] + nbs:
        title, summary = page(nb, a.out)
        print(f'rendered {nb.name}')
        items.append(f'<li><a href="{nb.stem}.html">{html.escape(title)}</a> — {html.escape(summary)}</li>')
    home = (a.out / 'index.html')
    home.write_text(home.read_text().replace('<body', '<body', 1).replace(
        '</body>', '<nav><h2>Pages</h2><ul>' + ''.join(items[1:]) + '</ul></nav></body>', 1))
    print(f'docs written to {a.out}/index.html')


if __name__ == '__main__':
    main()
