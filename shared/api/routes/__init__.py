"""Every routes module; importing this package registers all routes on the router."""

from shared.api.routes import core, email, invitations, jobs, metrics, x  # noqa: F401
