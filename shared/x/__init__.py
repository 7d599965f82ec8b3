"""The X posting pipeline: accounts, campaigns, posts, validation, dispatch and publishing.

Light to import: provider SDKs (tweepy, requests_oauthlib, google-cloud-storage) are
imported inside the functions that need them, so `shared.x.dispatch` stays cheap.
"""
