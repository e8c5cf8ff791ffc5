"""Headless Chromium for the browser tests: Debian's `chromium` and `chromium-driver` (installed by `make setup`),
driven by Selenium with the driver given explicitly, so nothing is ever downloaded. Screenshots go to
`out/screenshots/` (git-ignored), or `$LABELFREE_SCREENSHOTS`."""
import io
import os
import shutil
import socket
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which('chromium') or '/usr/bin/chromium'
CHROMEDRIVER = shutil.which('chromedriver') or '/usr/bin/chromedriver'


def screenshot_dir() -> Path:
    d = Path(os.environ.get('LABELFREE_SCREENSHOTS', ROOT / 'out' / 'screenshots'))
    d.mkdir(parents=True, exist_ok=True)
    return d


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def chromium(width: int = 1600, height: int = 1200):
    "A headless Chromium WebDriver (software WebGL through SwiftShader); fails the test, naming the install step, if the browser is missing (`make setup` installs it, so a missing one is a broken set-up, not a reason to skip)."
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.fail(f'{CHROMIUM} / {CHROMEDRIVER} not found: `make setup` installs Debian\'s chromium and chromium-driver')
    os.environ.setdefault('SE_OFFLINE', 'true')          # Selenium Manager: never download a browser or driver
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ('--headless=new', '--no-sandbox', '--disable-dev-shm-usage', f'--window-size={width},{height}',
              '--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--ignore-gpu-blocklist', '--no-first-run',
              '--disable-extensions', '--disable-background-networking'):
        opts.add_argument(a)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)


def png_array(png: bytes) -> np.ndarray:
    from PIL import Image
    return np.asarray(Image.open(io.BytesIO(png)).convert('RGB'))


def non_blank(img: np.ndarray, background=(255, 255, 255)) -> float:
    "Share of pixels that differ from the background."
    return float((np.abs(img.astype(int) - np.asarray(background)).sum(-1) > 30).mean())
