"""Training and evaluating Wav2SemLocal (:mod:`w2s.semantic.wav2sem_local`): host frames -> the word stream.

    folder = default_wav2sem_local(corpus_dir)          # data/models/wav2sem-local-<key>/model, trained if missing
    model, hist, val, out = load_or_train_local(corpus_dir, LocalRecipe(lookahead_ms=100))
    metrics = evaluate_split(model, corpus_dir, "test", host)

Data: the face corpus's **train** split only (its alignments give each word's timing; the synthesized
speech set `lite` trains on has none); selection on its val split, never on test. Targets are built at
the *host encoder's* frame rate (50 Hz for tiny HuBERT): host frame t (at t / rate seconds) gets the text
model's vector of the word spoken then (``oracle_text_local``'s rule, [start, end), normalised words),
none in pauses. Losses, on each training clip's frames:

* InfoNCE (as ``lite``'s) of every speech frame's query against the whole training word vocabulary
  (negatives: every other training word), temperature 0.05: the model's word bank (its logits are the
  softmax the output's posterior mean is taken under);
* 1 - cosine of the frame's word vector (the posterior mean) to the spoken word's;
* binary cross-entropy of the speech/pause head (the gate that makes pauses ~0, as the oracle's zeros);
* the phoneme CTC lever (``lite``'s ``ctc_loss``), the clip's phonemes from its alignments.

Evaluation (the val curve, the benchmark) is at the clip's vertex frames (the face fps), as a decoder reads
the stream: the prediction resampled by ``align_to_fps`` (F_p's rule), against ``oracle_text_local``'s.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from w2s.data.audio import load_audio
from w2s.data.batch import pad
from w2s.data.corpus import Corpus
from w2s.encoders import align_to_fps, cached_encode
from w2s.encoders.loading import load_encoder
from w2s.semantic.phonemes import PhonemeVocab
from w2s.semantic.targets import cached_embed, load_text_model
from w2s.semantic.train import ctc_loss
from w2s.semantic.wav2sem_local import Wav2SemLocal, Wav2SemLocalConfig
from w2s.train import History, TrainConfig, fit
from w2s.utils.hashing import key_of
from w2s.utils.io import write_json
from w2s.utils.owned import claim
from w2s.utils.paths import data_dir
from w2s.utils.runtime import set_seed
from w2s.utils.words import normalise_word

RUN_FILE = "wav2sem_run.json"  # beside model/, as a Wav2Sem run's (the same folder layout, w2s.utils.owned)
# The default step count: the knee of the default recipe's val curve (seed 0, synthtalk-default-seed0, val split,
# a 400-step run, 2026-12-06): frame word R@1 0.203 / 0.288 / 0.302 / 0.318 / 0.319 and cosine to the oracle
# 0.598 / 0.634 / 0.640 / 0.646 / 0.645 at steps 120 / 200 / 280 / 320 / 400 (chance R@1 0.005): flat past
# ~300. The 300-step default's own curve: R@1 0.274 / 0.280 / 0.289 / 0.287 at 210 / 240 / 270 / 300, cosine
# 0.632; it trained in 153 s on one busy core (its run record's history.seconds); 400 steps gain ~0.03 R@1 but
# pass the 3-minute budget of `make run` on that core (214 s).
DEFAULT_STEPS = 300


@dataclass
class LocalRecipe:
    text_model: str = "all-MiniLM-L6-v2"  # the sentence model whose word vectors are the targets
    host_encoder: str = "tiny-hubert"  # whose frozen frames the model reads (tiny-hubert: the corpus's own)
    config: str = "lite"  # a Wav2SemLocalConfig preset
    lookahead_ms: float = 200.0
    infonce_weight: float = 1.0
    cosine_weight: float = 1.0
    speech_weight: float = 1.0
    ctc_weight: float = 0.5  # 0: no CTC head
    temperature: float = 0.05
    train: TrainConfig = field(default_factory=lambda: local_train_config(DEFAULT_STEPS))

    def __post_init__(self):
        if self.config not in Wav2SemLocalConfig.presets:
            raise ValueError(f"unknown Wav2SemLocal preset {self.config!r}; choose one of {Wav2SemLocalConfig.presets}")
        weights = (self.infonce_weight, self.cosine_weight, self.speech_weight, self.ctc_weight)
        if min(weights) < 0 or self.temperature <= 0 or not (0 <= self.lookahead_ms < float("inf")):
            raise ValueError("loss weights and lookahead_ms must be >= 0, temperature > 0")


def local_train_config(steps: int, lr: float = 1e-3, batch_size: int = 16, seed: int = 0) -> TrainConfig:
    """The schedule: warm-up over 10 % of the steps (at most 100), ten evaluations on val (the curve)."""
    return TrainConfig(max_steps=steps, batch_size=batch_size, lr=lr, warmup_steps=max(1, min(100, steps // 10)),
                       log_every=max(1, min(10, steps // 10)), eval_every=max(1, steps // 10),
                       checkpoint_every=max(1, steps // 2), seed=seed)  # fmt: skip


# ---------------------------------------------------------------------------------------------
# data: each clip's host frames, its words per frame, its phonemes


def frame_words(alignment: dict, n: int, rate: float, index: dict[str, int]) -> np.ndarray:
    """(n,) int64: the vocabulary index (`index`) of the word spoken at frame t (time t / rate, in its
    [start, end)), -1 in pauses and for words not in `index` (a later word wins an overlap): the rule of
    ``oracle_text_local`` (``w2s.decoders.inputs.frame_segments``)."""
    t = np.arange(n) / float(rate)
    out = np.full(n, -1, dtype=np.int64)
    for w in alignment.get("words", []):
        out[(t >= float(w["start"])) & (t < float(w["end"]))] = index.get(normalise_word(w.get("word", "")), -1)
    return out


def split_words(corpus: Corpus, split: str) -> list[str]:
    """The distinct (normalised) words the split's alignments say, sorted."""
    words = {normalise_word(w.get("word", "")) for s in corpus.stems(split) for w in corpus.alignments[s]["words"]}
    return sorted(words - {""})


@dataclass
class SplitStreams:
    """A split as the model and its evaluation read it."""

    stems: list[str]
    feats: list[np.ndarray]  # (T_a, C_p) host frames
    vocab: list[str]  # the split's words
    bank: np.ndarray  # (K, C_s) their text vectors
    host_ids: list[np.ndarray]  # (T_a,) word index per host frame, -1 in pauses
    face_ids: list[np.ndarray]  # (n_frames,) word index per vertex frame, -1 in pauses
    phonemes: list[list[str]]
    fps: float
    rate: float


def split_streams(corpus_dir, split: str, host, text_model, vocab: list[str] | None = None) -> SplitStreams:
    """Host frames (cached), per-frame word indices into `vocab` (default: the split's words) at the host
    rate and at the face fps, and phonemes, of every clip of `split`."""
    corpus = Corpus.open(corpus_dir)
    stems = corpus.stems(split)
    vocab = split_words(corpus, split) if vocab is None else list(vocab)
    index = {w: i for i, w in enumerate(vocab)}
    feats = [cached_encode(host, load_audio(corpus.root / "wav" / f"{s}.wav")) for s in stems]
    al = corpus.alignments
    host_ids = [frame_words(al[s], len(f), host.rate, index) for s, f in zip(stems, feats, strict=True)]
    face_ids = [frame_words(al[s], corpus.n_frames(s), corpus.fps, index) for s in stems]
    phonemes = [[p["symbol"] for p in al[s]["phonemes"]] for s in stems]
    return SplitStreams(stems, feats, vocab, cached_embed(text_model, vocab), host_ids, face_ids, phonemes,
                        corpus.fps, host.rate)  # fmt: skip


class FrameTargets(torch.utils.data.Dataset):
    """(host frames (T, C_p), word index per frame (T,), phoneme ids) items."""

    def __init__(self, feats, ids, phones):
        self.feats, self.ids, self.phones = feats, ids, phones

    def __len__(self) -> int:
        return len(self.feats)

    def __getitem__(self, i):
        return torch.from_numpy(np.asarray(self.feats[i], np.float32)), torch.from_numpy(self.ids[i]), self.phones[i]


def collate(items):
    """frames (B, T, C_p), mask (B, T), word indices (B, T) (-1 pause, -2 padding), phoneme ids (B, L), lengths (B,)."""
    x, mask = pad([it[0] for it in items])
    ids = torch.full(mask.shape, -2, dtype=torch.long)
    for b, it in enumerate(items):
        ids[b, : len(it[1])] = it[1]
    ph = torch.zeros(len(items), max(1, max(len(it[2]) for it in items)), dtype=torch.long)
    for b, it in enumerate(items):
        ph[b, : len(it[2])] = torch.as_tensor(it[2], dtype=torch.long)
    return x, mask, ids, ph, torch.as_tensor([len(it[2]) for it in items])


def local_losses(net: Wav2SemLocal, batch, bank: torch.Tensor, recipe: LocalRecipe) -> tuple[torch.Tensor, dict]:
    """The weighted sum of the recipe's losses on a batch (see the module's docstring), and each loss."""
    x, mask, ids, ph, lengths = batch
    h, m = net.frames(x, mask)  # (B, T, C), (B, T)
    query, logit = net.heads(h)  # (B, T, C_s), (B, T)
    speech = ids >= 0  # (B, T)
    logs, total = {}, logit.sum() * 0.0
    if bool(speech.any()):
        q, y = query[speech], ids[speech]  # (N, C_s), (N,)
        if recipe.infonce_weight > 0:
            nce = F.cross_entropy(net.word_logits(q), y)  # = info_nce(q, bank, y, temperature): the bank is net.words
            total, logs["infonce"] = total + recipe.infonce_weight * nce, float(nce.detach())
        if recipe.cosine_weight > 0:
            cos = (1 - F.cosine_similarity(net.word_vector(q), bank[y], dim=-1)).mean()
            total, logs["cosine"] = total + recipe.cosine_weight * cos, float(cos.detach())
    if recipe.speech_weight > 0:
        bce = F.binary_cross_entropy_with_logits(logit[m], speech[m].float())
        total, logs["speech"] = total + recipe.speech_weight * bce, float(bce.detach())
    if recipe.ctc_weight > 0:
        ctc = ctc_loss(net.ctc_logits(h).float().log_softmax(-1), m, ph, lengths)
        total, logs["ctc"] = total + recipe.ctc_weight * ctc, float(ctc.detach())
    return total, logs


# ---------------------------------------------------------------------------------------------
# evaluation at the vertex frames


def stream_metrics(preds: list[np.ndarray], ids: list[np.ndarray], bank: np.ndarray) -> dict:
    """Frame-level word retrieval and closeness to the oracle stream. preds: (n_i, C_s) per clip at the
    vertex frames; ids: (n_i,) the spoken word's row of `bank` (K, C_s), -1 in pauses.

    r@1: over speech frames, is the spoken word the bank's nearest (cosine) to the prediction (chance 1/K);
    r@1_clip: the same among the clip's own words (chance: the mean of 1 / their number);
    cosine: to the spoken word's vector, over speech frames (cosine_mean_word: that of the bank's mean vector, a
    constant guess: MiniLM's word vectors share a large common part); speech_accuracy: ||pred|| > 0.5 on speech frames
    and below on pauses (a word vector is unit, a pause 0); pause_norm: the mean ||pred|| on pause frames."""
    b = bank / np.linalg.norm(bank, axis=1, keepdims=True).clip(1e-8)
    mean = b.mean(0) / np.linalg.norm(b.mean(0)).clip(1e-8)
    hits, clip_hits, clip_chance, cos, base, correct, pause_norms, n_frames = [], [], [], [], [], [], [], 0
    for p, y in zip(preds, ids, strict=True):
        n_frames += len(y)
        norm = np.linalg.norm(p, axis=1)
        speech = y >= 0
        correct.append((norm > 0.5) == speech)
        pause_norms.append(norm[~speech])
        if not speech.any():
            continue
        sims = (p[speech] / norm[speech, None].clip(1e-8)) @ b.T  # (N, K)
        truth = y[speech]
        hits.append(sims.argmax(1) == truth)
        own = np.unique(truth)
        clip_hits.append(own[sims[:, own].argmax(1)] == truth)
        clip_chance.append(np.full(len(truth), 1.0 / len(own)))
        cos.append(sims[np.arange(len(truth)), truth])
        base.append(b[truth] @ mean)
    if not hits:
        raise ValueError("stream_metrics: no speech frame (no word timing on any clip) to score")
    cat = np.concatenate
    return {
        "r@1": float(cat(hits).mean()), "chance_r@1": 1.0 / len(bank), "r@1_clip": float(cat(clip_hits).mean()),
        "chance_r@1_clip": float(cat(clip_chance).mean()), "cosine": float(cat(cos).mean()),
        "cosine_mean_word": float(cat(base).mean()), "speech_accuracy": float(cat(correct).mean()),
        "pause_norm": float(cat(pause_norms).mean()),
        "n_speech_frames": int(sum(len(h) for h in hits)), "n_frames": int(n_frames), "n_words": int(len(bank)),
    }  # fmt: skip


def face_streams(model: Wav2SemLocal, data: SplitStreams) -> list[np.ndarray]:
    """The model's stream of every clip, resampled to its vertex frames (F_p's rule)."""
    return [align_to_fps(p, data.rate, data.fps, len(y)) for p, y in zip(model.predict(data.feats), data.face_ids)]


def evaluate_split(model: Wav2SemLocal, corpus_dir, split: str, host, text_model=None) -> dict:
    """:func:`stream_metrics` of the model on `split` (candidates: the split's words), at the vertex frames."""
    text_model = text_model or load_text_model("all-MiniLM-L6-v2")
    data = split_streams(corpus_dir, split, host, text_model)
    return {"split": split, **stream_metrics(face_streams(model, data), data.face_ids, data.bank)}


# ---------------------------------------------------------------------------------------------
# training, and the keyed cache under data/models/


def train_wav2sem_local(corpus_dir, recipe: LocalRecipe, out_dir, host=None, on_log=None, force: bool = False):
    """Train one Wav2SemLocal on the corpus's train split, its val curve on the val split; save it into
    out_dir/model, its run record (recipe, history with the val curve, final val) into out_dir/wav2sem_run.json.
    Returns (model, history, final val metrics)."""
    set_seed(recipe.train.seed)
    out_dir = Path(out_dir)
    claim(out_dir, "wav2sem")
    text_model = load_text_model(recipe.text_model)
    host = host or load_encoder(recipe.host_encoder, corpus=Corpus.open(corpus_dir).root)
    train = split_streams(corpus_dir, "train", host, text_model)
    val = split_streams(corpus_dir, "val", host, text_model)
    vocab = PhonemeVocab.from_sequences(train.phonemes) if recipe.ctc_weight > 0 else None
    phones = [vocab.encode(q) for q in train.phonemes] if vocab else [[] for _ in train.phonemes]
    cfg = Wav2SemLocalConfig.preset(recipe.config, input_dim=host.dim, target_dim=train.bank.shape[1],
                                    frame_rate=float(host.rate), lookahead_ms=recipe.lookahead_ms,
                                    ctc_vocab_size=vocab.size if vocab else 0, n_words=len(train.vocab),
                                    temperature=recipe.temperature)  # fmt: skip
    set_seed(recipe.train.seed)
    model = Wav2SemLocal(cfg)
    bank = torch.as_tensor(train.bank, dtype=torch.float32)  # (K, C_s): every training word
    model.words.copy_(bank)

    def step_fn(net, batch, device):
        return local_losses(net, [t.to(device) for t in batch], bank.to(device), recipe)

    def eval_fn(m):
        return stream_metrics(face_streams(m, val), val.face_ids, val.bank)

    data = key_of([Corpus.open(corpus_dir).content_sha256, host.identity])
    fit_recipe = {"wav2sem_local": {k: v for k, v in asdict(recipe).items() if k != "train"},
                  "text_model": text_model.identity, "data": data}  # fmt: skip
    t0 = time.perf_counter()
    hist: History = fit(model, FrameTargets(train.feats, train.host_ids, phones), collate, step_fn, recipe.train,
                        out_dir=out_dir / "train", eval_fn=eval_fn, on_log=on_log, recipe=fit_recipe, force=force)  # fmt: skip
    model.save_pretrained(out_dir / "model")
    meta = {"recipe": {**asdict(recipe), "train": asdict(recipe.train)}, "kind": "wav2sem_local",
            "text_model": text_model.identity, "host_identity": host.identity, "corpus": str(Corpus.open(corpus_dir).root),
            "n_train_clips": len(train.stems), "n_train_words": len(train.vocab), "n_val_clips": len(val.stems),
            "history": hist.to_json(), "val": hist.evals[-1] if hist.evals else None,
            "val_curve": [{k: e[k] for k in ("step", "r@1", "cosine", "speech_accuracy")} for e in hist.evals],
            "seconds_with_data": time.perf_counter() - t0,
            "ctc_phonemes": list(vocab.symbols) if vocab else None}  # fmt: skip
    write_json(out_dir / RUN_FILE, meta, indent=1)
    return model, hist, meta["val"]


def local_key(recipe: LocalRecipe, corpus_dir, host) -> str:
    d = {**asdict(recipe), "train": asdict(recipe.train)}
    return key_of({"recipe": d, "corpus": Corpus.open(corpus_dir).content_sha256, "host": host.identity, "v": 1}, n=12)


def load_or_train_local(corpus_dir, recipe: LocalRecipe | None = None, root=None, on_train=None, on_log=None):
    """A trained Wav2SemLocal for (recipe, corpus): loaded from data/models/wav2sem-local-<key> when there,
    trained otherwise (`on_train(folder)` first). Returns (model, history, val metrics, folder)."""
    recipe = recipe or LocalRecipe()
    corpus = Corpus.open(corpus_dir)
    host = load_encoder(recipe.host_encoder, corpus=corpus.root)
    root = Path(root) if root else data_dir() / "models"
    out = root / f"wav2sem-local-{local_key(recipe, corpus, host)}"
    if (out / "model" / "config.json").is_file() and (out / RUN_FILE).is_file():
        meta = json.loads((out / RUN_FILE).read_text())
        return Wav2SemLocal.from_pretrained(out / "model"), History(**meta["history"]), meta["val"], out
    if on_train is not None:
        on_train(out)
    model, hist, val = train_wav2sem_local(corpus, recipe, out, host=host, on_log=on_log)
    return model, hist, val, out


def steps_for_corpus(corpus_dir) -> int:
    """The default step count for a corpus: DEFAULT_STEPS, fewer for the smoke and quick presets (as their lite
    Wav2Sem's: the test and quick-mode budgets)."""
    preset = Corpus.open(corpus_dir).preset or ""
    return 20 if preset.startswith("smoke") else 100 if preset == "quick" else DEFAULT_STEPS


def default_wav2sem_local(corpus_dir, steps: int | None = None, seed: int = 0, on_train=None) -> Path:
    """The folder of the default Wav2SemLocal for the face corpus `corpus_dir` (the default recipe, `steps`
    training steps (default: :func:`steps_for_corpus`), seed `seed`): loaded from data/models/ when trained,
    else trained now."""
    steps = steps_for_corpus(corpus_dir) if steps is None else steps
    recipe = LocalRecipe(train=local_train_config(steps, seed=seed))
    *_, out = load_or_train_local(corpus_dir, recipe, on_train=on_train)
    return out / "model"
