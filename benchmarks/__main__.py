"""``python -m benchmarks``: the full disttorch-vs-torch report (see ``benchmarks/run.py``)."""
from benchmarks.run import main

main()
