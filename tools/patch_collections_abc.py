"""Rewrite `from collections import X, Y` so that ABCs (removed from `collections` in Python 3.10) come from
`collections.abc` and everything else stays in `collections`. Used on MinkowskiEngine 0.5.4's sources.
    python tools/patch_collections_abc.py SRC_DIR   -> prints the files it changed; exit 1 if an old import is left
"""
import collections.abc
import re
import sys
from pathlib import Path

ABCS = set(collections.abc.__all__)
LINE = re.compile(r'^(\s*)from collections import ([^\n(]+)$', re.M)


def fix(m):
    indent, names = m.group(1), [n.strip() for n in m.group(2).split(',') if n.strip()]
    abc = [n for n in names if n.split(' as ')[0] in ABCS]
    rest = [n for n in names if n not in abc]
    out = []
    if rest: out.append(f"{indent}from collections import {', '.join(rest)}")
    if abc: out.append(f"{indent}from collections.abc import {', '.join(abc)}")
    return '\n'.join(out)


if __name__ == '__main__':
    left = []
    for f in sorted(Path(sys.argv[1]).rglob('*.py')):
        s = f.read_text()
        t = LINE.sub(fix, s)
        if t != s:
            f.write_text(t); print(f'patched {f}')
        left += [f'{f}: {m.group(0).strip()}' for m in LINE.finditer(t) if any(n.strip().split(' as ')[0] in ABCS for n in m.group(2).split(','))]
    if left: sys.exit('old collections imports left:\n' + '\n'.join(left))
