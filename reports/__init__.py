"""supplywatch's reports: the daily digest, supplier timelines and feeds (issue 4), through Jinja2.

Reads from the store; never fetches or classifies anything.
"""
