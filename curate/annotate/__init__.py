"""LM annotation: score a deterministic sample of documents 0-5 with a rubric (``curate annotate``).

The scores are labels to fit a cheap classifier on (``curate train-classifier
--kind head``), the recipe of FineWeb-Edu: an LM judges a sample, a small head
on sentence embeddings scores the whole corpus.
"""
