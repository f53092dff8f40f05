"""The decision helper: hardware profiles, calibration, the cost and quality models, recommendations,
their rendering and the widget."""

from ragcompare._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "recommend": "recommend CostModel QualityModel ACCURACY_LEVELS",
    "calibrate": "load_profile available_profiles HardwareProfile calibrate",
    "widgets": "DecisionTool",
}, globals())
