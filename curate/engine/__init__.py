"""How stages are run: the runner's machinery, one concern a module.

* :mod:`~curate.engine.plan`: the pipeline cut into steps (fused map chains,
  model, global, expand and order stages).
* :mod:`~curate.engine.units`: a chain of map / model / expand stages over one
  unit of work (an input file or a checkpoint part), with the contract checks.
* :mod:`~curate.engine.mapping`: units on Ray (tasks or an actor pool), resumed
  unit by unit.
* :mod:`~curate.engine.snapshot`: the data as a base of parts plus layers of
  marks; reading it back.
* :mod:`~curate.engine.marks`: writing a global stage's marks and applying them.
* :mod:`~curate.engine.ordering`: an order stage's new order, written out.
* :mod:`~curate.engine.cluster`: what the cluster has; failing fast when a
  stage asks for more.
* :mod:`~curate.engine.errors`: one error type and Ray's errors unwrapped.
"""
