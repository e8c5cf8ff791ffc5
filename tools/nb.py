"""Convert between the committed notebooks and jupytext percent scripts, for editing notebooks as text.

    python tools/nb.py to-py nbs/01_geometry.ipynb  /tmp/01_geometry.py
    python tools/nb.py to-nb /tmp/01_geometry.py   nbs/01_geometry.ipynb
The notebook stays the source: convert, edit, convert back, then `nbdev_clean && nbdev_export`.
"""
import sys

import jupytext

if __name__ == '__main__':
    cmd, src, dst = sys.argv[1:4]
    nb = jupytext.read(src)
    if cmd == 'to-nb':
        nb.metadata = {'kernelspec': {'display_name': 'python3', 'language': 'python', 'name': 'python3'}}
        jupytext.write(nb, dst, fmt='ipynb')
    elif cmd == 'to-py':
        jupytext.write(nb, dst, fmt='py:percent')
    else:
        sys.exit(__doc__)
