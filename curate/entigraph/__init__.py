"""EntiGraph synthetic continued pretraining: entities of a document, then texts relating them.

* :mod:`~curate.entigraph.params`: the stage's parameters and per-call-kind sampling;
* :mod:`~curate.entigraph.prompts`: the three call kinds' messages and the extraction JSON schema;
* :mod:`~curate.entigraph.parsing`: JSON repair and entity cleaning;
* :mod:`~curate.entigraph.plan`: seeded pair/triple sampling, budget shares, row ids;
* :mod:`~curate.entigraph.overlap`: n-gram overlap of synthetic text with its source;
* :mod:`~curate.entigraph.generator`: the per-document work with a loaded model (no Ray).

The stage is :mod:`curate.stages.entigraph`.
"""
