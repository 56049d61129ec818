"""All ORM models; importing this package registers every table on ``Base.metadata``."""

from storage.models.base import Base
from storage.models.catalogue import (
    AdoptionRecord,
    DataVersion,
    ExternalId,
    FdaPanelCrosswalk,
    Site,
    Technology,
    TechnologyLink,
    VocabularyTerm,
)

__all__ = [
    "AdoptionRecord",
    "Base",
    "DataVersion",
    "ExternalId",
    "FdaPanelCrosswalk",
    "Site",
    "Technology",
    "TechnologyLink",
    "VocabularyTerm",
]
