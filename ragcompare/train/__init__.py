"""Training the offline models: data and hard-negative mining, the trainers, held-out evaluation, model
cards and GPU bundles."""

from ragcompare._lazy import lazy_exports

_EXPORTS = {
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
