"""Lay out the CUDA toolkit that PyPI's nvidia-* wheels unpack (torch's runtime, cuBLAS, cuSPARSE; nvcc, nvvm, crt,
cccl installed beside them) as one CUDA_HOME that torch's cpp_extension and nvcc accept: bin/ and nvvm/, include/
with thrust, cub and libcu++ at its top, lib64/ with the unversioned `.so` links a linker needs. Symbolic links only.
    python tools/cuda_home.py DEST [SITE_PACKAGES_NVIDIA_CUxx]   -> prints DEST; the tree defaults to this Python's
"""
import re
import sys
from pathlib import Path


def toolkit_tree() -> Path:
    "The `nvidia/cuXX` folder of this Python's nvidia-* wheels, for torch's CUDA major version."
    import nvidia, torch
    if not torch.version.cuda: raise SystemExit(f'torch {torch.__version__} is a CPU-only build: no CUDA toolkit to lay out')
    major = torch.version.cuda.split('.')[0]
    for root in map(Path, nvidia.__path__):
        if (root / f'cu{major}').is_dir(): return root / f'cu{major}'
    raise SystemExit(f'no nvidia/cu{major} folder under {list(nvidia.__path__)}: install torch from PyPI with its CUDA wheels')


def link(dest: Path, target: Path) -> None:
    if dest.is_symlink() or dest.exists():
        if dest.is_symlink() and dest.resolve() == target.resolve(): return
        dest.unlink()
    dest.symlink_to(target)


def lay_out(tree: Path, dest: Path) -> Path:
    "Make `dest` a CUDA_HOME over `tree` (a `nvidia/cuXX` folder); returns `dest`. Re-running updates the links."
    missing = [p for p in ('bin/nvcc', 'nvvm/bin/cicc', 'include/crt', 'include/cccl/thrust', 'include/cuda_runtime.h')
               if not (tree / p).exists()]
    if missing: raise SystemExit(f'{tree}: not a whole CUDA toolkit, missing {", ".join(missing)} '
                                 '(install nvidia-cuda-nvcc, nvidia-nvvm, nvidia-cuda-crt, nvidia-cuda-cccl)')
    for d in ('bin', 'include', 'lib64'): (dest / d).mkdir(parents=True, exist_ok=True)
    link(dest / 'nvvm', tree / 'nvvm')
    link(dest / 'lib', Path('lib64'))
    for f in (tree / 'bin').iterdir(): link(dest / 'bin' / f.name, f)
    # nvcc's profile finds nvvm/ and include/ (with cccl/) from its own folder's parent: `dest` and the tree both hold them
    for f in (tree / 'include').iterdir():
        if f.name != 'cccl': link(dest / 'include' / f.name, f)
    for f in (tree / 'include' / 'cccl').iterdir(): link(dest / 'include' / f.name, f)   # thrust, cub, cuda, nv at the top
    link(dest / 'include' / 'cccl', tree / 'include' / 'cccl')
    for f in (tree / 'lib').iterdir():
        link(dest / 'lib64' / f.name, f)
        m = re.match(r'(lib.+\.so)\.\d+$', f.name)                # libcudart.so.13 -> libcudart.so for `-lcudart`
        if m and not (tree / 'lib' / m.group(1)).exists(): link(dest / 'lib64' / m.group(1), f)
    return dest


if __name__ == '__main__':
    print(lay_out(Path(sys.argv[2]) if len(sys.argv) > 2 else toolkit_tree(), Path(sys.argv[1]).absolute()))
