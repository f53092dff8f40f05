"""Lazy re-exports for package ``__init__`` files: a public name's module is imported on first use,
so ``import ragcompare`` (or a sub-package) stays cheap and pulls in no heavy library it does not need."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module


def lazy_exports(package: str, modules: Mapping[str, str], namespace: dict
                 ) -> tuple[Callable[[str], object], Callable[[], list[str]], list[str]]:
    """``(__getattr__, __dir__, __all__)`` for ``package``.

    ``modules`` maps a module path relative to ``package`` (``"beir"``, ``"data.beir"``) to the
    space-separated public names it defines; the first lookup of a name imports its module and caches
    the object in ``namespace`` (the package's ``globals()``).
    """
    where = {name: f"{package}.{module}" for module, names in modules.items() for name in names.split()}

    def __getattr__(name: str) -> object:
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(where[name]), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace.get("__all__", ()), *where})

    return __getattr__, __dir__, list(where)
