"""What the benchmarks share: their JSON files in benchmarks/results/ (which `labelfree.data.io.bench_results` reads),
written atomically so that a killed bench leaves no half file."""
import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / 'results'


def result_path(name: str) -> Path:
    "The JSON file of bench `name`: benchmarks/results/NAME.json."
    return RESULTS / f'{name}.json'


def write_json(out: Path, res) -> Path:
    "Write `res` to `out` as JSON (one-space indent, a final newline), atomically; returns `out`."
    from labelfree.data.io import atomic_path
    out.parent.mkdir(exist_ok=True)
    with atomic_path(out) as tmp: Path(tmp).write_text(json.dumps(res, indent=1) + '\n')
    return out


def write_result(out: Path, part: str, result) -> Path:
    "Set `part` in the JSON file `out` to `result`, keeping its other parts."
    res = json.loads(out.read_text()) if out.exists() else {}
    res[part] = result
    return write_json(out, res)
