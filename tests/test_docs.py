"""The docs site in a real browser. Builds a reduced site (every page, with the home page and the inspection notebook
executed and the others shown from source, to keep `make test` short), or checks the site at $LABELFREE_DOCS
(`make docs` checks its full `_docs` that way). Every page is opened in headless Chromium from a loopback HTTP server:
no broken internal links (pages and #anchors), no missing images, nothing loaded from outside the site; the home
page is screenshotted."""
import functools
import http.server
import os
import subprocess
import sys
import threading
from collections import deque
from pathlib import Path
from urllib.parse import urldefrag, urlparse, unquote

import pytest

from browser import ROOT, chromium, screenshot_dir

pytestmark = pytest.mark.slow          # minutes: `make test-all` and CI run it, `make test` skips it (README, "Developing")


@pytest.fixture(scope='module')
def site(tmp_path_factory) -> Path:
    if os.environ.get('LABELFREE_DOCS'):
        p = Path(os.environ['LABELFREE_DOCS'])
        assert (p / 'index.html').exists(), f'{p}/index.html not found: run `make docs` first'
        return p
    tmp = tmp_path_factory.mktemp('docs')
    r = subprocess.run([sys.executable, str(ROOT / 'tools' / 'build_docs.py'), '--out', str(tmp / 'site'),
                        '--build', str(tmp / 'build'), '--execute', 'index', 'viewer'],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-5000:]
    print(r.stdout.strip().splitlines()[-1])
    return tmp / 'site'


@pytest.fixture(scope='module')
def server(site):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args): pass
    handler = functools.partial(Quiet, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f'http://127.0.0.1:{httpd.server_address[1]}'
    httpd.shutdown()


PAGE = """
return {
  links: Array.from(document.querySelectorAll('a[href]')).map(a => a.href),
  images: Array.from(document.images).map(i => [i.currentSrc || i.src, i.complete && i.naturalWidth > 0]),
  ids: Array.from(document.querySelectorAll('[id]')).map(e => e.id).concat(Array.from(document.querySelectorAll('a[name]')).map(a => a.name)),
  resources: Array.from(document.querySelectorAll('script[src], link[href][rel=stylesheet], img[src], iframe[src]'))
                  .map(e => e.src || e.href),
  title: document.title,
  outputImages: document.querySelectorAll('.cell_output img').length,
};
"""


def test_site_links_and_images(site, server):
    shots = screenshot_dir()
    driver = chromium(1400, 1000)
    try:
        seen, fragments, problems, info = set(), [], [], {}
        queue = deque([f'{server}/index.html'])
        while queue:
            url = queue.popleft()
            if url in seen: continue
            seen.add(url)
            driver.get(url)
            page = urlparse(url).path
            if page == '/index.html': driver.save_screenshot(str(shots / 'docs_home.png'))
            driver.execute_script('window.scrollTo(0, document.body.scrollHeight)')   # load lazy images
            d = driver.execute_script(PAGE)
            info[page] = d
            for src, ok in d['images']:
                if not ok: problems.append(f'{page}: image not loaded: {src}')
            for r in d['resources']:
                if r and not r.startswith(server) and not r.startswith('data:'): problems.append(f'{page}: loads {r} from outside the site')
            for href in d['links']:
                if not href.startswith(server): continue
                target, frag = urldefrag(href)
                path = site / unquote(urlparse(target).path).lstrip('/')
                if path.is_dir(): path = path / 'index.html'
                if not path.exists(): problems.append(f'{page}: broken link {href}'); continue
                if frag: fragments.append((page, urlparse(target).path, frag))
                if path.suffix == '.html': queue.append(target if not target.endswith('/') else target + 'index.html')
        for page, target, frag in fragments:
            if target in info and frag not in info[target]['ids']: problems.append(f'{page}: broken anchor {target}#{frag}')
        assert not problems, f'{len(problems)} problems:\n' + '\n'.join(sorted(set(problems))[:40])
        pages = sorted(info)
        for must in ('/index.html', '/viewer.html', '/api.html', '/tutorials/inspecting_pseudo_labels.html', '/scene.html'):
            assert must in pages, (must, pages)
        n_nbs = len(list((ROOT / 'nbs').glob('[0-9]*.ipynb'))) + len(list((ROOT / 'nbs' / 'tutorials').glob('*.ipynb'))) + 1
        assert len(pages) >= n_nbs + 1, (len(pages), n_nbs)
        assert info['/viewer.html']['outputImages'] >= 2, 'the inspection page shows its widgets as pictures'
        driver.get(f'{server}/viewer.html')
        driver.save_screenshot(str(shots / 'docs_inspect.png'))
        print(f'{len(pages)} pages, {sum(len(d["links"]) for d in info.values())} links, '
              f'{sum(len(d["images"]) for d in info.values())} images checked; screenshots in {shots}')
    finally:
        driver.quit()


def test_sidebar_grouped_by_stage(site):
    home = (site / 'index.html').read_text()
    for caption in ('Tutorials', 'Scenes and data', 'Foundation models and pseudo-labels', 'Models and training',
                    'Evaluation and inspection', 'Command line', 'Reference'):
        assert caption in home, caption
