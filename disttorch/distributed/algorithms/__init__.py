"""Algorithms on top of process groups: DDP communication hooks, ``Join``."""
from .join import Join, Joinable, JoinHook

__all__ = ["Join", "Joinable", "JoinHook"]
