"The `labelfree` command run in the test's own process: what a subprocess gives, without a fresh interpreter importing torch each time."
import contextlib
import io
import os
import subprocess
import traceback


def run_cli(*args, env=None) -> subprocess.CompletedProcess:
    """`labelfree.cli.main` (what the console script calls) on `args`, with `env` added to the environment: exit status,
    stdout and stderr, as `subprocess.run` returns them. `test_cli_errors.test_console_script` checks that the installed
    command answers the same."""
    from labelfree.cli import main
    out, err, saved = io.StringIO(), io.StringIO(), dict(os.environ)
    os.environ.update({k: str(v) for k, v in (env or {}).items()})
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try: rc = main([str(a) for a in args])
            except SystemExit as e: rc = e.code if isinstance(e.code, int) else int(e.code is not None)     # argparse's refusals
            except Exception: traceback.print_exc(); rc = 1                    # what the interpreter does with an uncaught one
    finally: os.environ.clear(); os.environ.update(saved)
    return subprocess.CompletedProcess(['labelfree', *map(str, args)], rc, out.getvalue(), err.getvalue())
