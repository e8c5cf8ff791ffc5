"""Build the static HTML docs site from the notebooks, offline: `make docs` (Quarto, which `nbdev_docs` needs, cannot be
installed here, so the renderer is Sphinx + MyST-NB from PyPI).

    python tools/build_docs.py --out _docs                  # every notebook, executed (cached), plus the API reference
    python tools/build_docs.py --out /tmp/site --execute index 30_viewer   # execute only these; others show source

1. **Execute** each notebook with nbclient in its own folder (cells flagged `slow` or `gpu` — `tst_flags` — are shown
   but not run, as in `nbdev_test`). Executed notebooks are cached in `_docs_build/executed/`, keyed on the notebook's
   sources and the library's code, so a rebuild re-runs only what changed.
2. **Process** them with nbdev's own docs processors (`nbdev.serve.proc_nbs`, what `nbdev_proc_nbs` runs, minus its
   Quarto install check): `#| hide` cells dropped, exported code turned into `show_doc` API entries (executed by
   nbdev, so every page carries its API reference), links between pages added.
3. **Render** with Sphinx + MyST-NB (execution off: outputs are the ones from step 1) and the furo theme: a page per
   notebook, named as nbdev names them (`30_viewer.ipynb` -> `viewer.html`), a sidebar grouped by pipeline stage,
   an API reference page (autodoc of every module), widget outputs shown as the PNG they carry.
"""
import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
NBS = ROOT / 'nbs'
FLAGS = ('slow', 'gpu')                                     # settings.ini tst_flags: not run for the docs either
DIRECTIVE = re.compile(r'^\s*#\|\s*(.*)$', re.M)
DEFINES = {'export', 'exports', 'exporti', 'exec_doc', 'default_exp'}
GROUPS = [  # (caption, notebook stem prefixes): the pipeline's stages, in the data's order (nbs/index.ipynb, "Where things live")
    ('Tutorials', ('tutorials/',)),
    ('Scenes and data', tuple(f'{i:02d}_' for i in range(0, 12))),                   # scene model, geometry, loaders, metrics
    ('Foundation models and pseudo-labels', tuple(f'{i:02d}_' for i in range(12, 19))),
    ('Models and training', tuple(f'{i:02d}_' for i in range(19, 29))),             # networks, evaluation, trainers, probe
    ('Evaluation and inspection', tuple(f'{i:02d}_' for i in range(29, 32))),       # predict, viewer, demo
    ('Command line', tuple(f'{i:02d}_' for i in range(32, 100))),
]


def notebooks() -> list[Path]:
    "Every notebook of the site: index first, then modules, then tutorials (paths relative to nbs/)."
    mods = sorted(p.relative_to(NBS) for p in NBS.glob('[0-9]*.ipynb'))
    tuts = sorted(p.relative_to(NBS) for p in (NBS / 'tutorials').glob('*.ipynb')) if (NBS / 'tutorials').exists() else []
    return [Path('index.ipynb')] + mods + tuts


def page_name(rel: Path) -> str:
    "nbdev's page name of a notebook: the number prefix dropped (`tutorials/01_quickstart.ipynb` -> `tutorials/quickstart`)."
    stem = re.sub(r'^[0-9]+[a-z]?_', '', rel.stem)
    return str(rel.parent / stem) if str(rel.parent) != '.' else stem


def directives(src: str) -> list[str]:
    return [d.strip() for d in DIRECTIVE.findall(src) if src.lstrip().startswith('#|')]


def flagged(cell) -> bool:
    return cell.cell_type == 'code' and any(d.split()[0] in FLAGS for d in directives(cell.source) if d)


def library_hash() -> str:
    h = hashlib.sha1()
    for p in sorted((ROOT / 'labelfree').rglob('*.py')): h.update(p.read_bytes())
    return h.hexdigest()


# ---------------------------------------------------------------- 1. execute
def execute(rel: Path, lib: str, timeout: int, build: Path) -> tuple[Path, float, bool]:
    "Execute nbs/`rel` (cached); return the executed notebook's path, seconds spent, and whether it came from the cache."
    from nbclient import NotebookClient
    src = NBS / rel
    nb = nbformat.read(src, as_version=4)
    key = hashlib.sha1((json.dumps([c.source for c in nb.cells]) + lib).encode()).hexdigest()[:16]
    out = build / 'executed' / rel.parent / f'{rel.stem}.{key}.ipynb'
    if out.exists(): return out, 0.0, True

    class Client(NotebookClient):          # flagged cells stay as they are, unexecuted (their source is still shown)
        async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
            if flagged(cell): return cell
            return await super().async_execute_cell(cell, cell_index, execution_count, store_history)

    t0 = time.perf_counter()
    Client(nb, timeout=timeout, kernel_name='python3', resources={'metadata': {'path': str(src.parent)}}).execute()
    out.parent.mkdir(parents=True, exist_ok=True)
    for old in out.parent.glob(f'{rel.stem}.*.ipynb'): old.unlink()
    nbformat.write(nb, out)
    return out, time.perf_counter() - t0, False


# ---------------------------------------------------------------- 2. nbdev's processors
def nbdev_process(executed: dict[Path, Path], workers: int, build: Path) -> Path:
    "Run nbdev's docs processors over the executed notebooks in a scratch project; return its `_proc` folder."
    proj = build / 'proj'
    shutil.rmtree(proj, ignore_errors=True)
    (proj / 'nbs').mkdir(parents=True)
    shutil.copy(ROOT / 'settings.ini', proj / 'settings.ini')
    for rel, path in executed.items():
        nb = nbformat.read(path, as_version=4)
        for c in nb.cells:      # nbdev re-runs only what defines the API (exports, imports) for `show_doc`
            if c.cell_type == 'code' and not (set(d.split()[0] for d in directives(c.source) if d) & DEFINES):
                c.source = '#| eval: false\n' + c.source
        (proj / 'nbs' / rel).parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, proj / 'nbs' / rel)
    code = f'from nbdev.serve import proc_nbs; proc_nbs(path="nbs", n_workers={workers}, force=True)'
    r = subprocess.run([sys.executable, '-c', code], cwd=proj, capture_output=True, text=True)
    if r.returncode: sys.exit(f'nbdev processing failed:\n{r.stdout[-3000:]}{r.stderr[-5000:]}')
    return proj / '_proc'


# ---------------------------------------------------------------- 3. Sphinx + MyST-NB
def _title_cell(raw: str):
    import yaml
    fm = yaml.safe_load(raw.strip().strip('-')) or {}
    text = f"# {fm.get('title', '')}\n\n" + (f"*{fm['description']}*\n" if fm.get('description') else '')
    return nbformat.v4.new_markdown_cell(text)


def _relink(text: str, page: str, host: str) -> str:
    "nbdev's absolute doc links (`[`x`]({host}/viewer.html#scene_layers)`) -> relative HTML links between the site's pages."
    import html
    base = re.escape(host.rstrip('/'))
    def href(target, anchor):
        rel = os.path.relpath(target, os.path.dirname(page) or '.')
        return rel + ('#' + anchor.lower().replace('_', '-').replace('.', '-') if anchor else '')
    def md_link(m):     # raw HTML, so that MyST keeps the link as it is instead of resolving it as a cross-reference
        label = re.sub(r'`([^`]*)`', lambda c: f'<code>{html.escape(c.group(1))}</code>', m.group(1))
        return f'<a href="{href(m.group(2), m.group(3))}">{label}</a>'
    anchor = r'(?:#([\w-]+(?:\.[\w-]+)*))?'
    text = re.sub(r'\[([^\]]*)\]\(' + base + r'/([\w./-]+?\.html)' + anchor + r'\)', md_link, text)
    return re.sub(base + r'/([\w./-]+?\.html)' + anchor, lambda m: href(m.group(1), m.group(2)), text)


def to_sphinx(proc: Path, pages: dict[Path, str], src: Path, host: str):
    "Processed notebooks -> Sphinx sources: a title cell, directives removed, widget views replaced by their PNG."
    for rel, page in pages.items():
        nb = nbformat.read(proc / rel, as_version=4)
        cells = []
        for c in nb.cells:
            if c.cell_type == 'raw' and c.source.startswith('---'): cells.append(_title_cell(c.source)); continue
            if c.cell_type == 'markdown' and 'AUTOGENERATED' in c.source: continue
            if c.cell_type == 'code':
                ds = directives(c.source)
                c.source = DIRECTIVE.sub('', c.source).strip('\n')
                tags = set(c.metadata.get('tags', []))
                if any(d.replace(' ', '') in ('echo:false',) for d in ds): tags.add('remove-input')
                if c.metadata.get('language', 'python') == 'python' and not c.source.strip(): continue
                c.metadata = {'tags': sorted(tags)} if tags else {}
                for o in c.get('outputs', []):
                    data = o.get('data', {})
                    data.pop('application/vnd.jupyter.widget-view+json', None)
                    if 'image/png' in data: data.pop('text/plain', None)
                    for k in ('text/markdown', 'text/html'):
                        if k in data: data[k] = _relink(''.join(data[k]), page, host)
                    if 'text/markdown' in data:      # show_doc's `---` rules (transitions docutils refuses in outputs)
                        md = re.sub(r'^---\s*$', '', data['text/markdown'], flags=re.M)      # and Quarto's {attributes}
                        data['text/markdown'] = re.sub(r'\{target="_blank"[^}]*\}', '', md)
            elif c.cell_type == 'markdown':
                c.source = _relink(c.source, page, host)
            cells.append(c)
        nb.cells = cells
        nb.metadata = {'kernelspec': {'display_name': 'Python 3', 'language': 'python', 'name': 'python3'}}
        out = src / f'{page}.ipynb'
        out.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, out)


def modules() -> list[str]:
    "The library's public modules; a moved module's shim at its old path (`nbs/compat/`) is documented under its new name."
    import importlib, pkgutil, warnings
    import labelfree
    names = [m.name for m in pkgutil.walk_packages(labelfree.__path__, 'labelfree.') if not m.name.split('.')[-1].startswith('_')]
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)
        return sorted(n for n in names if importlib.import_module(n).__name__ == n)


CONF = '''
project = 'labelfree'
author = 'labelfree contributors'
extensions = ['myst_nb', 'sphinx.ext.autodoc', 'sphinx.ext.mathjax', 'sphinx-mathjax-offline']   # math rendered by a bundled MathJax, no CDN
html_theme = 'furo'
html_title = 'labelfree'
nb_execution_mode = 'off'                 # outputs come from tools/build_docs.py's cached execution
nb_ipywidgets_js = {}                     # no CDN scripts: widgets are shown as the PNG they carry
nb_merge_streams = True
myst_enable_extensions = ['colon_fence', 'dollarmath']
myst_heading_anchors = 3
autodoc_member_order = 'bysource'
autodoc_default_options = {'members': True, 'show-inheritance': True}
exclude_patterns = ['_build', '**.ipynb_checkpoints']
suppress_warnings = ['myst.header', 'mystnb.unknown_mime_type', 'misc.highlighting_failure', 'myst.xref_missing', 'toc.not_included']
html_theme_options = {'navigation_with_keys': True}


def _markdown_code(app, what, name, obj, options, lines):
    "Docstrings are written in Markdown: `code` becomes reST's ``code``."
    import re
    code = lambda m: '``' + m.group(1) + '``' + ('\\\\ ' + m.group(2) if m.group(2) else '')   # ``Scene``\\ s: reST needs the escaped space
    lines[:] = [re.sub(r'(?<![`\\w])`([^`]+)`(\\w?)', code, l) for l in lines]


def setup(app):
    app.connect('autodoc-process-docstring', _markdown_code)
'''


def write_sphinx_src(src: Path, pages: dict[Path, str]):
    (src / 'conf.py').write_text(CONF)
    groups = []
    for caption, prefixes in GROUPS:
        docs = [page for rel, page in pages.items() if rel.name != 'index.ipynb' and
                any(str(rel).startswith(p) if p.endswith('/') else ('/' not in str(rel) and rel.name.startswith(p)) for p in prefixes)]
        if docs: groups.append((caption, docs))
    toc = ''.join(f'\n```{{toctree}}\n:caption: {cap}\n:maxdepth: 1\n\n' + '\n'.join(docs) + '\n```\n' for cap, docs in groups)
    toc += '\n```{toctree}\n:caption: Reference\n:maxdepth: 1\n\napi\n```\n'
    home = nbformat.read(src / 'index.ipynb', as_version=4)
    home.cells.append(nbformat.v4.new_markdown_cell('## Contents\n' + toc))
    nbformat.write(home, src / 'index.ipynb')
    api = ['# API reference', '', 'Every module of the library, from its docstrings (each notebook page documents its own '
           'module in place, with examples).', '']
    for m in modules():
        api += [f'## `{m}`', '', '```{eval-rst}', f'.. automodule:: {m}', '```', '']
    (src / 'api.md').write_text('\n'.join(api))


def drop_missing_anchors(site: Path) -> int:
    "nbdev links every backticked name it knows; where a page has no entry for one (a property, say), link the page."
    ids = {p: set(re.findall(r'id="([^"]+)"', p.read_text())) for p in site.rglob('*.html')}
    n = 0
    for p in ids:
        text = p.read_text()
        def fix(m):
            nonlocal n
            target = (p.parent / m.group(1)).resolve() if m.group(1) else p.resolve()
            if target in {q.resolve() for q in ids} and m.group(2) not in ids[next(q for q in ids if q.resolve() == target)]:
                n += 1
                return f'href="{m.group(1) or p.name}"'
            return m.group(0)
        new = re.sub(r'href="([\w./-]*\.html)?#([^"]+)"', fix, text)
        if new != text: p.write_text(new)
    return n


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--out', type=Path, default=ROOT / '_docs')
    ap.add_argument('--execute', nargs='*', default=None,
                    help='execute only notebooks whose page name or stem is listed (default: all); the rest show their source')
    ap.add_argument('--only', nargs='*', default=None, help='build only these notebooks (page names or stems; index is always in)')
    ap.add_argument('--timeout', type=int, default=1800, help='seconds per cell')
    ap.add_argument('--jobs', type=int, default=2, help='notebooks executed at once')
    ap.add_argument('--build', type=Path, default=ROOT / '_docs_build', help='work folder (execution cache, processed notebooks)')
    a = ap.parse_args()
    build = a.build
    t0 = time.perf_counter()
    rels = notebooks()
    want = lambda rel, names: names is None or rel.name == 'index.ipynb' or page_name(rel) in names or rel.stem in names \
        or str(rel.with_suffix('')) in names
    rels = [r for r in rels if want(r, a.only)]
    pages = {rel: page_name(rel) for rel in rels}
    lib = library_hash()
    executed, timings = {}, {}

    def run(rel):
        if not want(rel, a.execute): return rel, NBS / rel, None, False
        path, secs, cached = execute(rel, lib, a.timeout, build)
        return rel, path, secs, cached

    with ThreadPoolExecutor(max(1, a.jobs)) as pool:
        for rel, path, secs, cached in pool.map(run, rels):
            executed[rel] = path
            timings[str(rel)] = 'source only' if secs is None else ('cached' if cached else f'{secs:.0f} s')
            print(f'  {rel}: {timings[str(rel)]}', flush=True)
    t_exec = time.perf_counter() - t0
    proc = nbdev_process(executed, a.jobs, build)
    src = build / 'src'
    shutil.rmtree(src, ignore_errors=True); src.mkdir(parents=True)
    from nbdev.config import get_config
    cfg = get_config(path=ROOT)
    to_sphinx(proc, pages, src, f"{cfg.doc_host}{cfg.doc_baseurl}")
    write_sphinx_src(src, pages)
    t_proc = time.perf_counter() - t0 - t_exec
    html = build / 'html'          # MyST-NB writes images beside its output folder: keep that inside `build`
    shutil.rmtree(html, ignore_errors=True)
    r = subprocess.run([sys.executable, '-m', 'sphinx', '-b', 'html', '-q', '-d', str(build / 'doctrees'), str(src), str(html)],
                       capture_output=True, text=True)
    if r.returncode: sys.exit(f'sphinx-build failed:\n{r.stdout[-3000:]}{r.stderr[-6000:]}')
    shutil.rmtree(a.out, ignore_errors=True)
    shutil.copytree(html, a.out)
    warnings = [l for l in r.stderr.splitlines() if 'WARNING' in l]
    dropped = drop_missing_anchors(a.out)
    (a.out / '.nojekyll').touch()
    total = time.perf_counter() - t0
    print(f'docs: {len(pages)} notebook pages + API reference in {a.out}/index.html; {total:.0f} s '
          f'(execute {t_exec:.0f} s, nbdev processors {t_proc:.0f} s, sphinx {total - t_exec - t_proc:.0f} s); '
          f'{len(warnings)} sphinx warnings, {dropped} links to undocumented names kept as page links' + (''.join('\n  ' + w for w in warnings[:15])))


if __name__ == '__main__':
    main()
