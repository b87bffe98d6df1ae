"""w2s.semantic.train: the schedule and the training-data choice shared by `w2s wav2sem train` and notebook 02."""

import pytest

from w2s.data.corpus import Corpus
from w2s.data.librispeech import LibriSpeechError
from w2s.semantic.train import heldout_texts, train_config, training_pairs


@pytest.mark.parametrize("steps, warmup, log, every", [(800, 80, 10, 200), (1500, 80, 10, 375), (20, 2, 2, 5), (3, 1, 1, 1)])
def test_train_config_scales_with_the_steps(steps, warmup, log, every):
    cfg = train_config(steps, lr=2e-3, batch_size=4, seed=7)
    assert (cfg.max_steps, cfg.lr, cfg.batch_size, cfg.seed) == (steps, 2e-3, 4, 7)
    assert (cfg.warmup_steps, cfg.log_every, cfg.eval_every, cfg.checkpoint_every) == (warmup, log, every, every)


def test_heldout_texts_are_the_val_and_test_speakers(smoke_corpus):
    corpus = Corpus(smoke_corpus)
    held = {corpus.transcripts[s] for split in ("val", "test") for s in corpus.stems(split)}
    # every sentence those speakers say, within the split's sentence range or not
    spoken = {t for s, t in corpus.transcripts.items() if s.rsplit("_", 1)[0] in corpus.subjects("val") + corpus.subjects("test")}
    assert held <= set(heldout_texts(smoke_corpus)) == spoken
    assert heldout_texts(corpus) == heldout_texts(smoke_corpus)


def test_training_pairs_needs_a_source(tmp_path):
    with pytest.raises(ValueError, match="face corpus.*LibriSpeech"):
        training_pairs()
    with pytest.raises(LibriSpeechError, match="does not exist"):  # LibriSpeech wins when given
        training_pairs(tmp_path, librispeech_dir=tmp_path / "missing")
