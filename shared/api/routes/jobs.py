"""Job openings, candidates and segments (their ads: routes.ads).

Thin: every operation is shared.jobs.service (which validates the domain rules); this
module declares routes and shapes.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from shared.api.context import Ctx
from shared.api.lists import after_key, service_page
from shared.api.models import OBJECT, Body, Open, PageQuery, Query
from shared.api.router import Upload, router
from shared.tenancy import Role

router.object_param("opening_id", "job_openings", "job opening")
router.object_param("run_id", "segment_runs", "segmentation run")
router.object_param("segment_id", "segments", "segment")


def _jobs() -> Any:
    from shared.jobs import service

    return service


# -- models -----------------------------------------------------------------------------


class Location(Body):
    country: str = Field(description="two-letter ISO code, e.g. US")
    city: str | None = None
    region: str | None = None
    remote: bool | None = None


class OpeningIn(Body):
    title: str = Field(min_length=1, max_length=200)
    company: str = Field(min_length=1, max_length=200)
    description: str | None = Field(None, max_length=5000)
    location: Location
    apply_url: str = Field(description="https link where candidates apply")
    status: str = Field("draft", description="draft | open | closed | archived")
    salary_min: float | None = None
    salary_max: float | None = None
    salary_currency: str | None = None
    salary_period: str | None = Field(None, description="year | month | hour ...")


class OpeningPatch(Body):
    title: str | None = Field(None, min_length=1, max_length=200)
    company: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=5000)
    location: Location | None = None
    apply_url: str | None = None
    status: str | None = None
    salary_min: float | None = None
    salary_max: float | None = None
    salary_currency: str | None = None
    salary_period: str | None = None


class OpeningOut(Open):
    id: str
    title: str
    company: str
    status: str


class StatusQuery(PageQuery):
    status: str | None = None


class CandidatesQuery(PageQuery):
    segment_id: str | None = None


class SegmentationIn(Body):
    k: int | None = Field(
        None, ge=1, le=20, description="number of segments; omit to choose by silhouette"
    )


class SegmentsQuery(Query):
    run_id: str | None = Field(None, description="default: the latest finished run")


# -- job openings -----------------------------------------------------------------------


@router.get(
    "/workspaces/{ws}/jobs/openings",
    summary="Job openings",
    tag="jobs",
    query=StatusQuery,
    response=OpeningOut,
    paged=True,
)
def list_openings(ctx: Ctx) -> Any:
    q: StatusQuery = ctx.query
    return service_page(
        _jobs().list_openings(
            ctx.runtime, ctx.ws, status=q.status, after=after_key(ctx), limit=q.limit
        )
    )


@router.post(
    "/workspaces/{ws}/jobs/openings",
    summary="Create a job opening",
    tag="jobs",
    role=Role.EDITOR,
    body=OpeningIn,
    response=OpeningOut,
    status=201,
)
def create_opening(ctx: Ctx) -> Any:
    return _jobs().create_opening(ctx.runtime, ctx.ws, ctx.body.given(json=True))


@router.get(
    "/workspaces/{ws}/jobs/openings/{opening_id}",
    summary="A job opening",
    tag="jobs",
    response=OpeningOut,
)
def get_opening(ctx: Ctx) -> Any:
    return _jobs().get_opening(ctx.runtime, ctx.ws, ctx.params["opening_id"])


@router.patch(
    "/workspaces/{ws}/jobs/openings/{opening_id}",
    summary="Change a job opening",
    tag="jobs",
    role=Role.EDITOR,
    body=OpeningPatch,
    response=OpeningOut,
)
def update_opening(ctx: Ctx) -> Any:
    return _jobs().update_opening(
        ctx.runtime, ctx.ws, ctx.params["opening_id"], ctx.body.given(json=True)
    )


@router.delete(
    "/workspaces/{ws}/jobs/openings/{opening_id}",
    summary="Delete a job opening without ad campaigns",
    tag="jobs",
    role=Role.EDITOR,
    status=204,
)
def delete_opening(ctx: Ctx) -> Any:
    _jobs().delete_opening(ctx.runtime, ctx.ws, ctx.params["opening_id"])


# -- candidates and segments ------------------------------------------------------------


@router.get(
    "/workspaces/{ws}/jobs/candidates",
    summary="Candidates (optionally of one segment)",
    tag="jobs",
    query=CandidatesQuery,
    response=OBJECT,
    paged=True,
)
def list_candidates(ctx: Ctx) -> Any:
    q: CandidatesQuery = ctx.query
    return service_page(
        _jobs().list_candidates(
            ctx.runtime, ctx.ws, segment_id=q.segment_id, after=after_key(ctx), limit=q.limit
        )
    )


@router.post(
    "/workspaces/{ws}/jobs/candidates/import",
    summary="Import candidates from CSV or XLSX; answers the validation report",
    tag="jobs",
    role=Role.EDITOR,
    body=Upload("a .csv or .xlsx file with a header row (skills, years, location, ...)"),
    response=OBJECT,
    status=201,
)
def import_candidates(ctx: Ctx) -> Any:
    name, data = ctx.upload()
    ctype = ctx.request.files["file"].mimetype or None
    return _jobs().import_candidates(ctx.runtime, ctx.ws, data, name, ctype)


@router.get(
    "/workspaces/{ws}/jobs/candidates/imports",
    summary="Past candidate imports and their reports",
    tag="jobs",
    response=OBJECT,
    paged=True,
)
def list_candidate_imports(ctx: Ctx) -> Any:
    q = ctx.query
    return service_page(
        _jobs().list_imports(ctx.runtime, ctx.ws, after=after_key(ctx), limit=min(q.limit, 200))
    )


@router.post(
    "/workspaces/{ws}/jobs/segmentations",
    summary="Segment the candidate pool (k-means; runs in the background)",
    tag="jobs",
    role=Role.EDITOR,
    body=SegmentationIn,
    response=OBJECT,
    status=202,
)
def start_segmentation(ctx: Ctx) -> Any:
    return _jobs().run_segmentation(ctx.runtime, ctx.ws, ctx.body.k)


@router.get(
    "/workspaces/{ws}/jobs/segmentations",
    summary="Segmentation runs",
    tag="jobs",
    response=OBJECT,
    paged=True,
)
def list_segmentations(ctx: Ctx) -> Any:
    q = ctx.query
    return service_page(_jobs().list_runs(ctx.runtime, ctx.ws, after=after_key(ctx), limit=q.limit))


@router.get(
    "/workspaces/{ws}/jobs/segmentations/{run_id}",
    summary="A segmentation run (status, chosen k, scores)",
    tag="jobs",
    response=OBJECT,
)
def get_segmentation(ctx: Ctx) -> Any:
    return _jobs().get_run(ctx.runtime, ctx.ws, ctx.params["run_id"])


@router.get(
    "/workspaces/{ws}/jobs/segments",
    summary="Segments of a run with readable profiles, largest first",
    tag="jobs",
    query=SegmentsQuery,
    response=OBJECT,
)
def list_segments(ctx: Ctx) -> Any:
    run_id = ctx.query.run_id
    return _jobs().list_segments(ctx.runtime, ctx.ws, run_id)


@router.get(
    "/workspaces/{ws}/jobs/segments/{segment_id}",
    summary="A segment",
    tag="jobs",
    response=OBJECT,
)
def get_segment(ctx: Ctx) -> Any:
    return _jobs().get_segment(ctx.runtime, ctx.ws, ctx.params["segment_id"])
