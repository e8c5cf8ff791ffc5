"""The inspection tutorial in a real browser: JupyterLab on loopback with a token, the tutorial opened in headless
Chromium and run; the widgets' controls must be there, the Open3D picture non-blank and changing when the layer
changes, the WebGL view drawn. Screenshots are saved (see tests/browser.py)."""
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request

import pytest

from browser import ROOT, chromium, free_port, non_blank, png_array, screenshot_dir

pytestmark = pytest.mark.slow          # minutes: `make test-all` and CI run it, `make test` skips it (README, "Developing")

TUTORIAL = ROOT / 'nbs' / 'tutorials' / '04_inspecting_pseudo_labels.ipynb'


@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    "JupyterLab on 127.0.0.1 with a random token, serving a scratch copy of the tutorial (outputs never reach nbs/)."
    work = tmp_path_factory.mktemp('lab')
    shutil.copy(TUTORIAL, work / 'tour.ipynb')
    settings = work / 'lab-settings' / '@jupyterlab' / 'notebook-extension'
    settings.mkdir(parents=True)
    # every cell stays in the DOM (no virtual scrolling), so the test can find every widget
    (settings / 'tracker.jupyterlab-settings').write_text(json.dumps({'windowingMode': 'none'}))
    # no dialogs over the page: no news or update checks, no "build recommended" (a third-party extension's notice)
    notif = work / 'lab-settings' / '@jupyterlab' / 'apputils-extension'
    notif.mkdir(parents=True)
    (notif / 'notification.jupyterlab-settings').write_text(json.dumps({'fetchNews': 'false', 'checkForUpdates': False}))
    (work / 'config' / 'labconfig').mkdir(parents=True)
    (work / 'config' / 'labconfig' / 'page_config.json').write_text(json.dumps({'buildCheck': False, 'buildAvailable': False}))
    (work / 'lab-workspaces').mkdir()
    token, port = secrets.token_hex(16), free_port()
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(work / 'config'), JUPYTERLAB_SETTINGS_DIR=str(work / 'lab-settings'), JUPYTERLAB_WORKSPACES_DIR=str(work / 'lab-workspaces'),
               JUPYTER_RUNTIME_DIR=str(work / 'runtime'), PYTHONUNBUFFERED='1')
    log = open(work / 'jupyterlab.log', 'w')
    proc = subprocess.Popen([sys.executable, '-m', 'jupyterlab', '--no-browser', '--ip=127.0.0.1', f'--port={port}',
                             f'--IdentityProvider.token={token}', f'--ServerApp.root_dir={work}',
                             '--LabApp.expose_app_in_browser=True', '--ServerApp.allow_root=True'],
                            cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f'http://127.0.0.1:{port}'
    try:
        for _ in range(120):
            try:
                with urllib.request.urlopen(f'{url}/api/status?token={token}', timeout=2) as r:
                    if r.status == 200: break
            except OSError: time.sleep(0.5)
            if proc.poll() is not None: pytest.fail(f'JupyterLab exited: {(work / "jupyterlab.log").read_text()[-3000:]}')
        else: pytest.fail(f'JupyterLab did not start: {(work / "jupyterlab.log").read_text()[-3000:]}')
        yield url, token, work
    finally:
        proc.terminate()
        try: proc.wait(15)
        except subprocess.TimeoutExpired: proc.kill()
        log.close()


# the tutorial's notebook panel (by path: `currentWidget` follows focus, which a headless window may not have)
PANEL = """const panel = window.jupyterapp && Array.from(window.jupyterapp.shell.widgets('main'))
  .find(w => w.context && w.context.path === 'tour.ipynb');
"""

READY = PANEL + "return !!(panel && panel.sessionContext.session && panel.sessionContext.session.kernel);"

RUN_ALL = PANEL + """
const done = arguments[arguments.length - 1];
(async () => {
  await panel.context.ready; await panel.sessionContext.ready;
  window.jupyterapp.shell.activateById(panel.id);
  await window.jupyterapp.commands.execute('notebook:run-all-cells');
  done('ok');
})().catch(e => done('error: ' + e));
"""

STATE = PANEL + """
const cells = panel.content.widgets.filter(c => c.model.type === 'code');
const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
const errors = cells.flatMap(c => c.model.outputs.toJSON().filter(o => o.output_type === 'error')
                                   .map(o => o.ename + ': ' + o.evalue));
return {status: kernel ? kernel.status : 'none', ran: cells.filter(c => c.model.executionCount !== null).length,
        n: cells.length, busy: cells.filter(c => c.promptNode && c.promptNode.textContent.includes('*')).length, errors};
"""


# the pixels an <img> or <canvas> holds (not a screenshot: nothing drawn over it counts), as a PNG data URL
PIXELS = """
const el = arguments[0];
if (el.tagName === 'CANVAS') return el.toDataURL('image/png');
const c = document.createElement('canvas'); c.width = el.naturalWidth; c.height = el.naturalHeight;
c.getContext('2d').drawImage(el, 0, 0); return c.toDataURL('image/png');
"""


def pixels(driver, el):
    import base64
    return png_array(base64.b64decode(driver.execute_script(PIXELS, el).split(',', 1)[1]))


def _wait(pred, timeout, what, interval=1.0):
    t0 = time.time()
    while time.time() - t0 < timeout:
        v = pred()
        if v is not None and (not hasattr(v, '__len__') or len(v)) and v is not False: return v
        time.sleep(interval)
    pytest.fail(f'timed out after {timeout}s waiting for {what}')


def test_inspection_tutorial_in_jupyterlab(lab):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select
    url, token, work = lab
    shots = screenshot_dir()
    driver = chromium()
    try:
        driver.set_script_timeout(600)
        driver.get(f'{url}/lab/tree/tour.ipynb?token={token}')
        _wait(lambda: driver.execute_script(READY), 120, 'the notebook and its kernel')
        t0 = time.time()
        res = driver.execute_async_script(RUN_ALL)
        assert res == 'ok', res
        state = _wait(lambda: (lambda s: s if s['status'] == 'idle' and s['ran'] == s['n'] and not s['busy'] else None)(driver.execute_script(STATE)),
                      600, 'all cells to run')
        run_s = time.time() - t0
        assert not state['errors'], state['errors']
        inspectors = _wait(lambda: driver.find_elements(By.CSS_SELECTOR, '.labelfree-inspector'), 60, 'the inspector widgets')
        assert len(inspectors) >= 5, len(inspectors)
        driver.save_screenshot(str(shots / 'jupyterlab_tour.png'))

        first = inspectors[0]
        driver.execute_script('arguments[0].scrollIntoView()', first)
        selects = first.find_elements(By.CSS_SELECTOR, '.labelfree-controls select')
        labels = [s.find_element(By.XPATH, './preceding-sibling::label').text for s in selects]
        assert labels == ['layer', 'compare with', 'view'], labels
        layer_options = [o.text for o in Select(selects[0]).options]
        for name in ('ground truth', 'raw CLIP labels', 'SAM-refined labels', 'transferred 3D labels', 'confidence',
                     'errors: transferred 3D labels', 'point colours'):
            assert name in layer_options, (name, layer_options)
        assert len(first.find_elements(By.CSS_SELECTOR, '.labelfree-legend input[type=checkbox]')) >= 5
        assert len(first.find_elements(By.CSS_SELECTOR, '.labelfree-controls .widget-slider')) >= 4
        assert len(first.find_elements(By.CSS_SELECTOR, '.labelfree-controls button')) == 6
        assert 'points' in first.find_element(By.CSS_SELECTOR, '.labelfree-info').text
        assert first.find_element(By.CSS_SELECTOR, 'img.labelfree-view').is_displayed()   # view=3 was given

        img = first.find_element(By.CSS_SELECTOR, '.labelfree-3d')
        a = pixels(driver, img)
        (shots / 'inspector_3d_before.png').write_bytes(img.screenshot_as_png)
        assert non_blank(a) > 0.1, f'3D picture blank: {non_blank(a):.3f} of it drawn'
        Select(selects[0]).select_by_visible_text('ground truth')
        def changed():
            b = pixels(driver, img)
            return b if b.shape == a.shape and abs(b.astype(int) - a).mean() > 1 else None
        b = _wait(changed, 60, 'the 3D picture to change with the layer')
        assert non_blank(b) > 0.1, f'3D picture blank after the layer change: {non_blank(b):.3f} drawn'
        (shots / 'inspector_3d_after.png').write_bytes(img.screenshot_as_png)
        first.screenshot(str(shots / 'inspector_widget.png'))

        canvas = first.find_element(By.CSS_SELECTOR, 'canvas.labelfree-webgl')
        driver.execute_script('arguments[0].scrollIntoView()', canvas)
        g = pixels(driver, canvas)
        assert non_blank(g) > 0.02, f'WebGL view blank: {non_blank(g):.3f} of it drawn'
        (shots / 'inspector_webgl.png').write_bytes(canvas.screenshot_as_png)
        print(f'3D picture: {non_blank(a):.1%} drawn, {abs(b.astype(int) - a).mean():.1f} mean change with the layer; '
              f'WebGL view: {non_blank(g):.1%} drawn')

        compare = inspectors[2]      # raw vs SAM-refined
        driver.execute_script('arguments[0].scrollIntoView()', compare)
        assert compare.find_element(By.CSS_SELECTOR, '.labelfree-3d-compare').is_displayed()
        assert 'mIoU' in compare.find_element(By.CSS_SELECTOR, '.labelfree-ious').text
        compare.screenshot(str(shots / 'inspector_compare.png'))
        print(f'tutorial ran in JupyterLab in {run_s:.0f} s; {len(inspectors)} inspectors; screenshots in {shots}')
    finally:
        driver.quit()
