"""The embed stage with a plain Hugging Face folder, the way In-Context Pretraining embeds documents.

The paper's retriever is facebook/contriever-msmarco, a plain BERT folder (no sentence-transformers files),
on the first ~510 tokens, pooled as the mean of every token but [CLS]
(swj0419/in-context-pretraining, build_embeds/RETRO-pytorch/retro_pytorch/retrieval.py, ``bert_embed``:
``hidden_state[:, 1:]`` averaged over the attention mask). No hub download is possible here, so a tiny BERT
with random weights and a made-up vocabulary is built locally and the expected vectors are computed with
transformers directly, as the reference does.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("sentence_transformers")

from curate.stages.embed import Embed, embedding_space  # noqa: E402
from tests.conftest import documents  # noqa: E402

WORDS = "the library opens late on weekdays council said readers asked for evening hours staff shifts".split()
TEXTS = ["The library opens late on weekdays.", "Readers asked for evening hours, the council said.",
         "Staff shifts."]


@pytest.fixture(scope="module")
def bert_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("contriever-like")
    (folder / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ",", *WORDS]))
    tokenizer = transformers.BertTokenizerFast(vocab_file=str(folder / "vocab.txt"))
    tokenizer.save_pretrained(folder)
    torch.manual_seed(0)
    config = transformers.BertConfig(vocab_size=len(WORDS) + 7, hidden_size=32, num_hidden_layers=2,
                                     num_attention_heads=2, intermediate_size=64, max_position_embeddings=512)
    transformers.BertModel(config).eval().save_pretrained(folder)
    return folder


def reference_vectors(folder, texts, pool_from: int) -> np.ndarray:
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    model = transformers.AutoModel.from_pretrained(folder).eval()
    batch = tokenizer(texts, padding=True, truncation=True, max_length=512, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"][:, pool_from:, None].float()
    mean = (hidden[:, pool_from:] * mask).sum(1) / mask.sum(1)
    return (mean / mean.norm(dim=1, keepdim=True)).numpy()


def embed(folder, **params) -> np.ndarray:
    stage = Embed(model=str(folder), max_tokens=512, num_cpus=1, **params)
    out = stage.process_batch(documents(TEXTS))[0]
    return np.asarray(out.column("embedding").to_pylist(), dtype=np.float32)


def test_mean_without_cls_matches_the_papers_pooling(bert_folder):
    got = embed(bert_folder, pooling="mean_without_cls", precision="float32")
    expected = reference_vectors(bert_folder, TEXTS, pool_from=1)
    assert np.allclose(got, expected, atol=1e-5)
    # the folder's default (sentence-transformers' mean over every token, [CLS] included) is another space
    plain = embed(bert_folder, precision="float32")
    assert np.allclose(plain, reference_vectors(bert_folder, TEXTS, pool_from=0), atol=1e-5)
    assert not np.allclose(plain, got, atol=1e-3)


def test_the_pooling_names_the_embedding_space(bert_folder):
    stage = Embed(model=str(bert_folder), pooling="mean_without_cls")
    assert embedding_space(stage.params) == f"{bert_folder.name}+mean_without_cls"
    assert embedding_space(Embed(model=str(bert_folder)).params) == bert_folder.name
