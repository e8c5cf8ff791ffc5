"The first lines of the scripts the multi-process tests write and run (`python -c`, torchrun): their imports."


def setup_lines(*imports: str) -> str:
    "json, sys and torch, then each of `imports` on its own line."
    return "import json, sys, torch\n" + ''.join(f'{i}\n' for i in imports)
