"""Herald's shared package: domain logic and adapters every function ships with.

Modules here import only the standard library and light Google clients at import time;
heavy SDKs (tweepy, google-genai, google-ads, facebook-business, scikit-learn, matplotlib)
are imported inside the functions that need them, because cold start matters.
"""
