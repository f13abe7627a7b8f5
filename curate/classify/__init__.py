"""fastText text classifiers: training (``curate train-classifier``), loading and scoring."""
