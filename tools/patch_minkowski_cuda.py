"""Make MinkowskiEngine 0.5.4's CUDA sources compile with CUDA 13 and CCCL 3 (thrust/cub 3.x). Each patch names what
the new toolkit removed or changed; none changes what the kernels compute. Idempotent.
    python tools/patch_minkowski_cuda.py SRC_DIR   -> prints each patch it applied; exit 1 if one found nothing to patch
"""
import re
import sys
from pathlib import Path

# Algorithms and iterators that thrust 1.x headers pulled in transitively and CCCL 3 no longer does.
THRUST_HEADERS = ['execution_policy', 'sort', 'unique', 'remove', 'copy', 'count', 'fill', 'for_each', 'transform',
                  'reduce', 'scan', 'sequence', 'gather', 'scatter', 'functional', 'device_vector', 'host_vector',
                  'iterator/counting_iterator', 'iterator/transform_iterator', 'iterator/zip_iterator']
THRUST_BLOCK = ("// labelfree: thrust headers that CCCL 3 no longer includes transitively\n"
                + ''.join(f'#include <thrust/{h}.h>\n' for h in THRUST_HEADERS))

PREFETCH = '''// labelfree: CUDA 13 takes a cudaMemLocation and flags in cudaMemPrefetchAsync
inline cudaError_t labelfree_prefetch(const void *p, size_t n, int dev, cudaStream_t s) {
#if CUDART_VERSION >= 13000
  cudaMemLocation loc{};
  loc.type = cudaMemLocationTypeDevice;
  loc.id = dev;
  return cudaMemPrefetchAsync(p, n, loc, 0, s);
#else
  return cudaMemPrefetchAsync(p, n, dev, s);
#endif
}
'''


def drop_functor_base(s: str) -> str:
    "`thrust::unary_function` / `binary_function` are gone in CCCL 3: drop them as base classes (they only held typedefs)."
    out, i = [], 0
    for m in re.finditer(r':\s*public\s+thrust::(?:unary|binary)_function\s*<', s):
        if m.start() < i: continue
        depth, j = 1, m.end()
        while depth:                                     # to the matching '>'
            depth += {'<': 1, '>': -1}.get(s[j], 0); j += 1
        out += [s[i:m.start()]]; i = j
    return ''.join(out) + s[i:]


def patch(src: Path) -> list[str]:
    "Apply every patch under `src`; the list of what was done. Raises if a patch's target is missing (another release)."
    done = []
    def edit(rel, f, mark):                              # `mark`: text the patched file holds, so a second run skips it
        p = src / rel
        s = p.read_text()
        if mark in s: return
        t = f(s)
        if mark not in t: raise SystemExit(f'{p}: nothing to patch for "{mark}" (not MinkowskiEngine 0.5.4?)')
        p.write_text(t); done.append(f'{rel}: {mark}')
    edit('src/coordinate_map_functors.cuh', lambda s: drop_functor_base(s).replace(
        '#include', '// labelfree: no thrust::unary_function base\n#include', 1) if drop_functor_base(s) != s else s,
         'labelfree: no thrust::unary_function base')
    cmap = 'src/3rdparty/concurrent_unordered_map.cuh'
    # the vendored nvtx3 clashes with the toolkit's own ("nvtx3::domain is ambiguous"); it only named a profiler range
    edit(cmap, lambda s: s.replace('#include <cudf/detail/nvtx/ranges.hpp>', '// labelfree: no vendored nvtx3 ranges')
                          .replace('    CUDF_FUNC_RANGE();\n', ''), 'labelfree: no vendored nvtx3 ranges')
    edit(cmap, lambda s: re.sub(r'\bcudaMemPrefetchAsync\(', 'labelfree_prefetch(', s)
                          .replace('#include <functional>', PREFETCH + '#include <functional>', 1), 'labelfree_prefetch(')
    # std::shared_ptr from create()'s unique_ptr is ambiguous (std::__to_address vs CCCL's): build it from its parts
    edit('src/coordinate_map_gpu.cuh', lambda s: s.replace(
        '      m_map = map_type::create(\n          compute_hash_table_size(size, m_hashtable_occupancy),\n'
        '          m_unused_element, m_unused_key, m_hasher, m_equal, m_map_allocator);',
        '      auto created = map_type::create(\n          compute_hash_table_size(size, m_hashtable_occupancy),\n'
        '          m_unused_element, m_unused_key, m_hasher, m_equal, m_map_allocator);\n'
        '      auto deleter = created.get_deleter();  // labelfree: shared_ptr from the released pointer\n'
        '      m_map = std::shared_ptr<map_type>(created.release(), deleter);'), 'labelfree: shared_ptr from the released pointer')
    # ATen/cuda/CUDAUtils.h needs at::Tensor complete: include torch first
    edit('src/spmm.cu', lambda s: s.replace('#include <ATen/cuda/CUDAContext.h>',
                                            '#include <torch/extension.h>  // labelfree: before ATen/cuda\n#include <ATen/cuda/CUDAContext.h>', 1),
         'labelfree: before ATen/cuda')
    for p in sorted([*src.glob('src/*.cu'), *src.glob('src/*.cuh'), *src.glob('src/3rdparty/*.cuh')]):
        if 'thrust::' in p.read_text():
            edit(str(p.relative_to(src)), lambda s: re.sub(r'^#include', THRUST_BLOCK + '#include', s, count=1, flags=re.M),
                 'labelfree: thrust headers')
    return done


if __name__ == '__main__':
    for line in patch(Path(sys.argv[1])): print('patched', line)
