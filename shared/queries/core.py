"""Queries of workspaces, memberships and the API's own lists."""

from shared.queries.spec import QuerySpec, asc, count

WORKSPACES_OF_USER = QuerySpec(
    "core.workspaces_of_user", "memberships", equals=("user_id",), why="a user's workspaces"
)
OWNERS = QuerySpec("core.owners", "memberships", equals=("workspace_id", "role"))
MEMBERS = QuerySpec(
    "core.members",
    "memberships",
    equals=("workspace_id",),
    order=(asc("user_id"),),
    paged=True,
    why="GET /workspaces/{ws}/members",
)
COUNT_BY_STATUS = {
    collection: QuerySpec(
        f"core.count_{collection}_by_status",
        collection,
        equals=("workspace_id",),
        within=(("status", 4),),
        aggregations=(count(),),
        why="the dashboard's activity-now counts",
    )
    for collection in ("posts", "email_campaigns")
}
INVITATIONS_OF_WORKSPACE = QuerySpec(
    "core.invitations_of_workspace",
    "invitations",
    equals=("workspace_id",),
    why="an owner's list of pending invitations",
)
INVITATIONS_FOR_USER = QuerySpec(
    "core.invitations_for_user",
    "invitations",
    equals=("username",),
    why="the signed-in user's pending invitations",
)
