"""Every routes module; importing this package registers all routes on the router."""

from shared.api.routes import (  # noqa: F401
    core,
    deliverability,
    email,
    invitations,
    jobs,
    metrics,
    x,
)
