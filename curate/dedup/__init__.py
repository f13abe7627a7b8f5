"""Near-duplicate detection building blocks: shingling, MinHash signatures,
LSH banding, candidate verification and connected components.

The pieces work on Arrow arrays and numpy and know nothing about Ray except
:mod:`curate.dedup.components`, which also runs connected components over a
Ray Dataset of edges.
"""
