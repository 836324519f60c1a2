"""Run a Python worker so that a failure ends the process at once.

``python -m launcher.runner script PATH ARGS...`` or ``... module NAME ARGS...``
runs the program as ``python PATH`` / ``python -m NAME`` would. The
difference is the way out: when the program raises or calls ``sys.exit``
with a non-zero status, the traceback is printed and the process exits
immediately with that status. A normal interpreter exit would first run
``MPI_Finalize``, which waits for ranks still inside a collective, so the
failed rank would hang instead of failing, and the launcher could not say
how it ended.
"""

import os
import runpy
import sys
import traceback


def _exit_status(exc):
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    print(exc.code, file=sys.stderr)
    return 1


def _fail(status):
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def main():
    """Entry point; see the module docstring."""
    if len(sys.argv) < 3 or sys.argv[1] not in ("script", "module"):
        sys.exit("usage: python -m launcher.runner {script PATH|module NAME} [ARGS...]")
    kind, target = sys.argv[1], sys.argv[2]
    sys.argv = [target, *sys.argv[3:]]
    try:
        if kind == "module":
            runpy.run_module(target, run_name="__main__", alter_sys=True)
        else:
            sys.path[0] = os.path.dirname(os.path.abspath(target))
            runpy.run_path(target, run_name="__main__")
    except SystemExit as exc:
        status = _exit_status(exc)
        if status:
            _fail(status)
    except BaseException:  # the worker's own error: report it and fail fast
        traceback.print_exc()
        _fail(1)


if __name__ == "__main__":
    main()
