"""All ORM models; importing this package registers every table on ``Base.metadata``.

Each feature keeps its tables in its own module; add one import line per module below.
"""

from storage.models import accounts  # noqa: F401
from storage.models import case_study  # noqa: F401
from storage.models import catalogue  # noqa: F401
from storage.models import survey  # noqa: F401
from storage.models import workshop  # noqa: F401
from storage.models.base import Base
from storage.models.catalogue import (
    AdoptionRecord,
    CatalogueRevision,
    DataChange,
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
    "CatalogueRevision",
    "DataChange",
    "DataVersion",
    "ExternalId",
    "FdaPanelCrosswalk",
    "Site",
    "Technology",
    "TechnologyLink",
    "VocabularyTerm",
]
