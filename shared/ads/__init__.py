"""Job ads on Meta and Google Ads (issue 8).

Light to import: facebook-business and google-ads are imported only by
shared.ads.meta and shared.ads.google, each on its own publishing path.
"""
