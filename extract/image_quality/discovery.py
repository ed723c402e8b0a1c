"""Kept for imports written before ``sources``: the local walk now lives in ``sources.local``."""

from .sources.local import (FoundFile, SourceError, Walk, WalkProblem, check_sources,  # noqa: F401
                            is_image_name, normalise_path, walk_sources)
from .sources.base import IMAGE_EXTENSIONS  # noqa: F401
