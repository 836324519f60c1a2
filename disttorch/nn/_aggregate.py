"""Collect the public names of several submodules into one namespace (nn, nn.functional, ...)."""
import importlib


def collect(package, names, namespace):
    """Import ``package.<name>`` for each name that exists and copy its ``__all__`` into
    ``namespace``; returns the list of exported names."""
    exported = []
    for name in names:
        try:
            module = importlib.import_module(f"{package}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{package}.{name}":
                raise
            continue
        for symbol in getattr(module, "__all__", ()):
            namespace[symbol] = getattr(module, symbol)
            exported.append(symbol)
    return exported
