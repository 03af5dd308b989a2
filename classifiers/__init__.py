"""supplywatch's classifiers: labels for stored documents (issue 3: the transformer classifier).

Reads documents from the store and writes labels back; never fetches or renders anything.
"""
