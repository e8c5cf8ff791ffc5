"The first lines of the scripts the multi-process tests write and run (`python -c`, torchrun): this folder on the path, then imports."
from pathlib import Path


def setup_lines(*imports: str) -> str:
    "json, sys and torch, the tests folder on `sys.path` (for the tiny set-ups), then each of `imports` on its own line."
    return f"import json, sys, torch\nsys.path.insert(0, {str(Path(__file__).resolve().parent)!r})\n" + ''.join(f'{i}\n' for i in imports)
