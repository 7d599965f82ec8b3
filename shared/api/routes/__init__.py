"""Every routes module; importing this package registers all routes on the router."""

from shared.api.routes import (  # noqa: F401
    ads,
    campaigns,
    channels,
    contacts,
    core,
    deliverability,
    email,
    groups,
    invitations,
    jobs,
    media,
    metrics,
    posts,
    series,
    smtp,
    templates,
    x_accounts,
    x_spend,
)
