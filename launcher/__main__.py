"""``python -m launcher``: the same as ``disttorch-run``."""

from launcher.cli import main

main()
