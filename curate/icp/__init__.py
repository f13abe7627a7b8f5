"""In-Context Pretraining ordering (Shi et al., 2023): embed documents, find each
document's nearest neighbours, walk the resulting similarity graph greedily so
that consecutive documents are related, and cut the path into fixed-length
training contexts, with every document placed exactly once (none repeated,
none dropped). The modules here are the numeric core (``knn``, ``graph``,
``traverse``, ``pack``, ``metrics``) and the embedders (``embed``); the stage
that wires them into a pipeline is ``curate.stages.icp_reorder``.
"""
