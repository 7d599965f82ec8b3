"""Content generation: drafts for X campaigns from a brief.

Light modules (brief, topics, dedupe, offline, dispatch) import no SDK; gemini.py
(google-genai), images.py (Pillow, matplotlib) and trends.py (tweepy) import theirs on use.
"""
