"""The decision helper: hardware profiles, calibration, the cost and quality models, recommendations,
their rendering and the widget."""

from ragcompare._lazy import lazy_exports

_EXPORTS = {
    "recommend": "ragcompare.decide.recommend",
    "load_profile": "ragcompare.decide.calibrate",
    "available_profiles": "ragcompare.decide.calibrate",
    "HardwareProfile": "ragcompare.decide.calibrate",
    "calibrate": "ragcompare.decide.calibrate",
    "CostModel": "ragcompare.decide.recommend",
    "QualityModel": "ragcompare.decide.recommend",
    "ACCURACY_LEVELS": "ragcompare.decide.recommend",
    "DecisionTool": "ragcompare.decide.widgets",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
