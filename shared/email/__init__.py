"""Email campaigns: SMTP settings, contacts, templates, campaigns, dispatch, sending, tracking.

`service` holds the operations the API exposes; `dispatch` is the dispatcher source;
`worker` is the send_email task handler; `track` serves the public tracking links.
"""
