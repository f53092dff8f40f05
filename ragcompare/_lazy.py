"""Lazy re-exports for package ``__init__`` files: a public name's module is imported on first use,
so ``import ragcompare`` (or a sub-package) stays cheap and pulls in no heavy library it does not need."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module


def lazy_exports(package: str, exports: Mapping[str, str], namespace: dict
                 ) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package`` whose public ``name`` lives in module
    ``exports[name]`` (a full dotted path); the first lookup caches the object in ``namespace``."""

    def __getattr__(name: str) -> object:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace.get("__all__", ()), *exports})

    return __getattr__, __dir__
