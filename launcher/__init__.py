"""disttorch-run: start, watch and restart data-parallel training on one node or many.

The command line lives in :mod:`launcher.cli`; training code talks to the
launcher through :mod:`launcher.worker`.
"""
