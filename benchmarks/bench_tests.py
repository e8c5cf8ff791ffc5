"""The test suite's wall time on this machine: `make test`'s parts and what `make test-all` adds (JSON in benchmarks/results/tests.json).

Runs the Makefile's parts one after another: `check-sync`, `test-notebooks` (nbdev_test) and `test-fast` (pytest's
tests not marked slow), which make `make test` (target <= 300 s on two cores), then `test-slow` (what `make test-all`
and CI add). Set-up is excluded (run `make setup` first). Options: --only fast (skip the slow tests).
"""
import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

from common import result_path, write_json

ROOT = Path(__file__).resolve().parent.parent
OUT = result_path('tests')
BIN = Path(sys.executable).parent


def timed(cmd: list[str]) -> dict:
    "Run `cmd` in the repository root; its wall time, exit status and, for pytest, the counts of its summary line."
    t = time.perf_counter()
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    out = dict(seconds=round(time.perf_counter() - t, 1), returncode=r.returncode)
    last = next((l for l in reversed(r.stdout.strip().splitlines()) if re.search(r'\d+ passed', l)), '')
    out |= {k: int(n) for n, k in re.findall(r'(\d+) (passed|failed|skipped|deselected|errors?)', last)}
    if r.returncode: print(r.stdout[-3000:], r.stderr[-3000:])
    return out


def main(only_fast: bool = False) -> dict:
    from labelfree.demo import machine_info
    make = ['make', '-s', f'VENV={Path(sys.executable).parent.parent}']
    parts = {'check_sync': [*make, 'check-sync'], 'nbdev_test': [*make, 'test-notebooks'], 'pytest_fast': [*make, 'test-fast']}
    if not only_fast: parts['pytest_slow'] = [*make, 'test-slow']
    res = {}
    for name, cmd in parts.items():
        res[name] = timed(cmd)
        print(f'  {name}: {res[name]}', flush=True)
    make_test = round(sum(res[k]['seconds'] for k in ('check_sync', 'nbdev_test', 'pytest_fast')), 1)
    out = dict(parts=res, make_test_s=make_test, target_s=300, machine=machine_info())
    print(f"  make test (set-up excluded): {make_test:.0f} s (target <= 300: {'met' if make_test <= 300 else 'NOT met'})"
          + (f"; make test-all adds {res['pytest_slow']['seconds']:.0f} s" if 'pytest_slow' in res else ''))
    write_json(OUT, out)
    return out


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument('--only', choices=['fast'], default=None)
    a = ap.parse_args()
    print(__doc__.strip().splitlines()[0])
    main(a.only == 'fast')
