import pickle

import pytest

from curate.config import ConfigError
from curate.stage import DROP_REASON
from curate.stages.language import Language
from curate.tables import drop_mask
from tests.conftest import documents

TEXTS = ["The weather was fine and the children played in the park\nuntil it was dark.",
         "Le chat dort sur le canapé pendant que les enfants jouent dans le jardin.",
         "人人生而自由，在尊严和权利上一律平等。",
         "", "  \n ", None, "\x00\x01\ufffd"]


@pytest.fixture(scope="module")
def stage():
    return Language()


def test_languages_scores_and_keep_list(stage):
    out, stats = stage.process_batch(documents(TEXTS))
    assert out.column("language").to_pylist()[:3] == ["en", "fr", "zh"]
    assert out.column("language").to_pylist()[3:6] == [None, None, None]
    scores = out.column("language_score").to_pylist()
    assert scores[0] > 0.65 and scores[3:6] == [0.0, 0.0, 0.0]
    assert out.column(DROP_REASON).to_pylist()[:4] == [None, "language_not_kept", "language_not_kept",
                                                       "language_not_kept"]
    assert stats["checked"] == len(TEXTS) and stats["languages"]["en"] >= 1


def test_annotate_and_keep_everything():
    out, _ = Language(mode="annotate", keep=["en", "fr"], min_score=None).process_batch(documents(TEXTS[:3]))
    assert not drop_mask(out).any()
    assert out.column("language_reason").to_pylist() == [None, None, "language_not_kept"]


def test_stage_pickles_without_its_model(stage):
    copy = pickle.loads(pickle.dumps(stage))
    out, _ = copy.process_batch(documents(TEXTS[:1]))
    assert out.column("language").to_pylist() == ["en"]


def test_missing_or_corrupt_model_is_named(tmp_path):
    with pytest.raises(ConfigError, match="absent.ftz"):
        Language(model_path=str(tmp_path / "absent.ftz"))
    corrupt = tmp_path / "corrupt.ftz"
    corrupt.write_bytes(b"not a fasttext model" * 100)
    with pytest.raises(ConfigError, match="corrupt.ftz"):
        Language(model_path=str(corrupt))
