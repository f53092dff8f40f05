"""ragcompare: measure, teach and choose between bi-encoder, cross-encoder and hybrid ranking."""

from ragcompare.types import Hit, RagCompareError

__all__ = ["Hit", "RagCompareError", "__version__"]
__version__ = "0.1.0"
