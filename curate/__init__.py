"""curate: a data curation engine for LLM pretraining corpora."""

__version__ = "0.1.0"
