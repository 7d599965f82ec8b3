"""Every routes module; importing this package registers all routes on the router."""

from shared.api.routes import (  # noqa: F401
    campaigns,
    channels,
    core,
    deliverability,
    email,
    invitations,
    jobs,
    media,
    metrics,
    posts,
    series,
    templates,
    x_accounts,
    x_spend,
)
