"""The jobs service for the API: `(runtime, workspace_id, ...)` -> plain dicts.

Errors are shared.errors (ValidationError, NotFound, Conflict). Listing calls return
{"items": [...], "next": <sort_key or None>}; pass `after=next` for the next page.
"""

from __future__ import annotations

from shared.jobs.candidates import import_candidates, list_candidates, list_imports
from shared.jobs.openings import (
    create_opening,
    delete_opening,
    get_opening,
    list_openings,
    update_opening,
)
from shared.jobs.segments import get_run, get_segment, list_runs, list_segments
from shared.jobs.segments import start_segmentation as run_segmentation

__all__ = [
    "create_opening",
    "delete_opening",
    "get_opening",
    "get_run",
    "get_segment",
    "import_candidates",
    "list_candidates",
    "list_imports",
    "list_openings",
    "list_runs",
    "list_segments",
    "run_segmentation",
    "update_opening",
]
