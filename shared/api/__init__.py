"""The admin API: a small router over Flask's request, OpenAPI 3.1 from the same declarations.

- `router`: route declarations (`Router.route`) carrying their OpenAPI metadata.
- `app.handle`: the one entry point the `api` function calls for every path.
- `auth`: bearer tokens (PyJWT HS256), revocation, login throttling.
- `paging`: opaque cursors over declared queries (Firestore cursors underneath).
- `routes_*`: thin handlers calling the pipelines' service modules.
"""
