"""Queries of the jobs and ads pipelines: openings, candidates, segments, ad campaigns."""

from shared.queries.spec import QuerySpec, asc, desc

# The API's lists (shared/jobs/store.page), by sort_key ("<created ISO>|<id>").
OPENINGS = QuerySpec(
    "jobs.openings",
    "job_openings",
    equals=("workspace_id",),
    optional=("status",),
    order=(asc("sort_key"),),
    paged=True,
)
CANDIDATES = QuerySpec(
    "jobs.candidates",
    "candidates",
    equals=("workspace_id",),
    optional=("segment_id",),
    order=(asc("sort_key"),),
    paged=True,
)
CANDIDATE_IMPORTS = QuerySpec(
    "jobs.candidate_imports",
    "candidate_imports",
    equals=("workspace_id",),
    order=(asc("sort_key"),),
    paged=True,
)
SEGMENT_RUNS = QuerySpec(
    "jobs.segment_runs",
    "segment_runs",
    equals=("workspace_id",),
    order=(asc("sort_key"),),
    paged=True,
)
AD_CAMPAIGNS = QuerySpec(
    "ads.campaigns",
    "ad_campaigns",
    equals=("workspace_id",),
    optional=("status",),
    order=(asc("sort_key"),),
    paged=True,
)

LATEST_DONE_RUN = QuerySpec(
    "jobs.latest_done_run",
    "segment_runs",
    equals=("workspace_id", "status"),
    order=(desc("sort_key"),),
)
RUN_SEGMENTS = QuerySpec("jobs.run_segments", "segments", equals=("workspace_id", "run_id"))
OPENING_AD_CAMPAIGNS = QuerySpec(
    "jobs.opening_ad_campaigns",
    "ad_campaigns",
    equals=("workspace_id", "opening_id"),
    why="an opening used by ad campaigns cannot be deleted",
)
DUE_AD_CAMPAIGNS = QuerySpec(
    "ads.due_campaigns",
    "ad_campaigns",
    equals=("status",),
    range="start_at",
    range_required=True,
    order=(asc("start_at"),),
)
CAMPAIGN_INSIGHTS = QuerySpec(
    "ads.campaign_insights", "ad_insights", equals=("workspace_id", "campaign_id")
)
