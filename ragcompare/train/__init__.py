"""Training the offline models: data and hard-negative mining, the trainers, held-out evaluation, model
cards and GPU bundles."""

from ragcompare._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
}, globals())
