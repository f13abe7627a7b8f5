"""Feeding a training job from a run's output: tokenisation, packed token shards, length buckets.

``curate pack OUT`` (``curate.feed.pack``) writes fixed-length token sequences
(or power-of-two length buckets) next to a run's document shards;
``curate.loader`` streams either kind into PyTorch.
"""
