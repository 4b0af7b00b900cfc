"""Model lineage: which models were trained on which snapshots, what a withdrawal, deletion or
erasure since then means for each of them (exposure), and the EU AI Act's public summary of
their training content. See docs/models.md."""

from consentry.models.exposure import Exposure, ExposureGroup, exposure_of, overdue_models
from consentry.models.lineage import Model, ModelConflictError, Models

__all__ = [
    "Exposure",
    "ExposureGroup",
    "Model",
    "ModelConflictError",
    "Models",
    "exposure_of",
    "overdue_models",
]
