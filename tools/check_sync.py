"""Fail if a notebook is unclean, the library is out of sync with the notebooks, or README.md is stale.

Runs nbdev_export and nbdev_clean on a scratch copy of the project and compares the result with the working tree,
so nothing here is modified; the message lists the files that the two commands would change.
"""
import filecmp
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def tracked(root: Path):
    "Files the two commands may touch: notebooks and library modules."
    return sorted([p.relative_to(root) for p in (root / 'nbs').rglob('*.ipynb') if '.ipynb_checkpoints' not in p.parts]
                  + [p.relative_to(root) for p in (root / 'labelfree').rglob('*.py')])


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        shutil.copy(ROOT / 'settings.ini', tmp)
        shutil.copytree(ROOT / 'nbs', tmp / 'nbs', ignore=shutil.ignore_patterns('.ipynb_checkpoints', '_proc'))
        shutil.copytree(ROOT / 'labelfree', tmp / 'labelfree', ignore=shutil.ignore_patterns('samples', '__pycache__'))
        for cmd in ('nbdev_export', 'nbdev_clean'):
            r = subprocess.run([str(BIN / cmd)], cwd=tmp, capture_output=True, text=True)
            if r.returncode: sys.exit(f'{cmd} failed:\n{r.stdout}{r.stderr}')
        before, after = set(tracked(ROOT)), set(tracked(tmp))
        changed = sorted(str(p) for p in before & after if not filecmp.cmp(ROOT / p, tmp / p, shallow=False))
        changed += [f'{p} (new)' for p in sorted(map(str, after - before))]
    problems = []
    if changed:
        problems.append('nbdev_export / nbdev_clean would change:\n  ' + '\n  '.join(changed)
                        + '\nRun `nbdev_export && nbdev_clean` and commit the result.')
    # names a module uses but never imports (a notebook's test-only imports hide them until a user hits them)
    r = subprocess.run([sys.executable, '-m', 'pyflakes', str(ROOT / 'labelfree')], capture_output=True, text=True)
    undefined = [l for l in r.stdout.splitlines() if 'undefined name' in l]
    if undefined: problems.append('undefined names in the library:\n  ' + '\n  '.join(undefined))
    r = subprocess.run([sys.executable, str(ROOT / 'tools' / 'make_readme.py'), '--check'], capture_output=True, text=True)
    if r.returncode: problems.append(r.stderr.strip() or r.stdout.strip())
    if problems:
        print('\n'.join(problems), file=sys.stderr)
        return 1
    print(f'notebooks clean, library and README in sync ({len(before)} files checked)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
