"""Training and evaluating Wav2Sem: audio → the text model's sentence embedding.

Data: (audio, sentence) pairs from LibriSpeech (every utterance; `w2s.data.librispeech`) or, offline,
from a speech-only set synthesized from the sentence generator, kept disjoint from the face corpus's
validation and test sentences. Targets: a text model's sentence vectors (`w2s.semantic.targets`), cached.
Loss: L1 to the target (the paper's) or cosine distance. The standalone configs (`tiny`, `paper`)
read raw audio; `lite` reads a frozen host encoder's features (cached), so the plug costs almost
nothing at inference.

Evaluation: retrieval of each held-out utterance's sentence among all held-out sentences (R@1, R@5,
median rank, beside chance) and the cosine to the target.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from w2s.data.audio import load_audio
from w2s.data.augment import PRESETS as AUGMENT_PRESETS
from w2s.data.batch import pad
from w2s.data.corpus import Corpus
from w2s.encoders import cached_encode
from w2s.encoders.loading import load_encoder
from w2s.semantic.phonemes import PhonemeVocab, phoneme_sequences
from w2s.semantic.targets import cached_embed, load_text_model
from w2s.semantic.training_data import (  # noqa: F401  (re-exported: notebook 02 and the CLI import them from here)
    augmented_features,
    corpus_texts,
    heldout_texts,
    librispeech_pairs,
    speech_set_pairs,
    training_pairs,
)
from w2s.semantic.wav2sem import Wav2Sem, Wav2SemConfig
from w2s.train import History, TrainConfig, fit
from w2s.utils.hashing import key_of
from w2s.utils.io import write_json
from w2s.utils.owned import claim
from w2s.utils.parallel import default_workers, in_processes
from w2s.utils.paths import data_dir
from w2s.utils.runtime import configure_threads, progress, set_seed

log = logging.getLogger(__name__)

CONFIGS = ("tiny", "paper", "lite")
LOSSES = ("l1", "cosine")
NEGATIVES = ("batch", "all")
POOLINGS = ("mean", "attention")


@dataclass
class Wav2SemRecipe:
    config: str = "tiny"  # tiny | paper | lite
    text_model: str = "all-MiniLM-L6-v2"  # a sentence-transformers name/folder, or a BERT name/folder
    text_kind: str = "auto"  # auto | sentence-transformers | bert-cls (Wav2Sem_c) | bert-mean (Wav2Sem_m)
    loss: str = "l1"  # l1 (the paper) | cosine
    max_seconds: float = 5.0  # longer utterances are randomly cropped in training
    host_encoder: str = "tiny-hubert"  # lite only: whose frozen features the head reads
    init_from: str = ""  # tiny/paper: a wav2vec2/HuBERT name or folder to initialise the backbone
    val_size: int = 100  # utterances held back from the training set for validation
    # levers beyond the paper (each off by default: the defaults are the paper's recipe)
    pooling: str = "mean"  # mean (the paper) | attention
    ctc_weight: float = 0.0  # > 0: + this x an auxiliary phoneme CTC loss on the frames (multi-task)
    infonce_weight: float = (
        0.0  # > 0: + this x InfoNCE of F_s against the text vectors (cosine / temperature)
    )
    negatives: str = "batch"  # InfoNCE's negatives: the batch's other sentences | all training sentences
    temperature: float = 0.05
    center_targets: bool = False  # cosine and InfoNCE measured after subtracting the training targets' mean
    # issue 26, lite only: each training utterance also heard as `augment_copies` perturbed copies
    # (a w2s.data.augment preset, seeded per utterance); every step reads the clean one or a copy at random
    augment: str = "none"
    augment_copies: int = 0
    train: TrainConfig = field(default_factory=lambda: TrainConfig(max_steps=800, batch_size=8, lr=1e-3, warmup_steps=80,
                                                                   eval_every=200, checkpoint_every=200))  # fmt: skip

    def __post_init__(self):
        if self.config not in CONFIGS:
            raise ValueError(f"unknown Wav2Sem config {self.config!r}; choose one of {CONFIGS}")
        if self.loss not in LOSSES:
            raise ValueError(f"unknown loss {self.loss!r}; choose one of {LOSSES}")
        if self.pooling not in POOLINGS:
            raise ValueError(f"unknown pooling {self.pooling!r}; choose one of {POOLINGS}")
        if self.negatives not in NEGATIVES:
            raise ValueError(f"unknown negatives {self.negatives!r}; choose one of {NEGATIVES}")
        if self.ctc_weight < 0 or self.infonce_weight < 0 or self.temperature <= 0:
            raise ValueError("ctc_weight and infonce_weight must be >= 0 and temperature > 0")
        if self.augment not in AUGMENT_PRESETS:
            raise ValueError(f"unknown augment preset {self.augment!r}; choose one of {sorted(AUGMENT_PRESETS)}")
        if (self.augment != "none") != (self.augment_copies > 0) or self.augment_copies < 0:
            raise ValueError("augment and augment_copies go together: a preset other than 'none' and copies >= 1")
        if self.augment != "none" and self.config != "lite":
            raise ValueError(f"augment is for the lite config (it perturbs the frozen host's input); got {self.config!r}")


# ---------------------------------------------------------------------------------------------
# data


class AudioTargets(torch.utils.data.Dataset):
    """(audio (N,), target (D,), sentence index, phoneme ids) items; audio loaded lazily, cropped at
    random past max_seconds (a cropped item's phoneme ids are dropped: they no longer match)."""

    def __init__(self, paths: list[Path], targets: np.ndarray, max_seconds: float | None, seed: int = 0,
                 labels=None, phones=None):  # fmt: skip
        self.paths, self.targets = list(paths), torch.as_tensor(targets, dtype=torch.float32)
        self.labels = list(range(len(self.paths))) if labels is None else list(labels)
        self.phones = phones
        self.max_len = int(max_seconds * 16000) if max_seconds else None
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i):
        audio = load_audio(self.paths[i])
        phones = self.phones[i] if self.phones is not None else []
        if self.max_len and len(audio) > self.max_len:
            s = int(self.rng.integers(0, len(audio) - self.max_len + 1))
            audio, phones = audio[s : s + self.max_len], []
        return torch.from_numpy(audio), self.targets[i], self.labels[i], phones


class FeatureTargets(torch.utils.data.Dataset):
    """(host features (T, D), target, sentence index, phoneme ids) items for the lite head. With `copies`
    (per item, features of perturbed copies of its audio), an item is its clean features or one copy, drawn
    uniformly."""

    def __init__(self, feats: list[np.ndarray], targets: np.ndarray, labels=None, phones=None, copies=None,
                 seed: int = 0):  # fmt: skip
        self.feats, self.targets = feats, torch.as_tensor(targets, dtype=torch.float32)
        self.labels = list(range(len(feats))) if labels is None else list(labels)
        self.phones = phones
        self.copies = copies
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.feats)

    def __getitem__(self, i):
        x = self.feats[i]
        if self.copies is not None:
            j = int(self.rng.integers(0, 1 + len(self.copies[i])))
            x = x if j == 0 else self.copies[i][j - 1]
        x = torch.from_numpy(np.asarray(x, dtype=np.float32))
        return x, self.targets[i], self.labels[i], self.phones[i] if self.phones is not None else []


def collate(items):
    """inputs (B, N) audio or (B, T, D) features, zero-padded; their (B, N | T) bool mask; targets (B, D);
    sentence indices (B,); phoneme ids (B, L) zero-padded and their lengths (B,) (0: no CTC target)."""
    x, mask = pad([it[0] for it in items])
    phones = [list(it[3]) for it in items]
    ids = torch.zeros(len(items), max(1, max(len(p) for p in phones)), dtype=torch.long)
    for b, p in enumerate(phones):
        ids[b, : len(p)] = torch.as_tensor(p, dtype=torch.long)
    labels = torch.as_tensor([it[2] for it in items], dtype=torch.long)
    return (
        x,
        mask,
        torch.stack([it[1] for it in items]),
        labels,
        ids,
        torch.as_tensor([len(p) for p in phones]),
    )


def semantic_loss(
    pred: torch.Tensor, target: torch.Tensor, kind: str, center: torch.Tensor | None = None
) -> torch.Tensor:
    """The paper's L1 to the target, or the cosine distance (after subtracting `center` when given)."""
    if kind == "l1":
        return (pred - target).abs().mean()
    if center is not None:
        pred, target = pred - center, target - center
    return (1 - torch.nn.functional.cosine_similarity(pred, target, dim=-1)).mean()


def info_nce(
    pred: torch.Tensor,
    bank: torch.Tensor,
    labels: torch.Tensor,
    temperature: float,
    center: torch.Tensor | None = None,
) -> torch.Tensor:
    """InfoNCE (van den Oord et al. 2018; CLIP's audio-to-text direction): cross-entropy of each
    prediction's cosine similarities / temperature over the candidate text vectors `bank` (K, D), the
    right one at `labels` (B,). pred (B, D)."""
    if center is not None:
        pred, bank = pred - center, bank - center
    logits = (
        torch.nn.functional.normalize(pred, dim=-1) @ torch.nn.functional.normalize(bank, dim=-1).T
    )  # (B, K)
    return torch.nn.functional.cross_entropy(logits / temperature, labels)


def ctc_loss(
    log_probs: torch.Tensor, frame_mask: torch.Tensor, ids: torch.Tensor, lengths: torch.Tensor
) -> torch.Tensor:
    """CTC (Graves et al. 2006) of the frames' phoneme log-probabilities (B, T, K) against the phoneme ids
    (B, L) of the items that have them (lengths > 0), averaged over those items' target lengths."""
    has = lengths > 0
    if not bool(has.any()):
        return log_probs.sum() * 0.0
    lp = log_probs[has].transpose(0, 1)  # (T, B', K)
    return torch.nn.functional.ctc_loss(lp, ids[has], frame_mask[has].sum(1), lengths[has], blank=0,
                                        reduction="mean", zero_infinity=True)  # fmt: skip


# ---------------------------------------------------------------------------------------------
# evaluation


def retrieval(pred: np.ndarray, candidates: np.ndarray, truth: np.ndarray) -> dict:
    """Rank every candidate sentence for each prediction by cosine; truth[i] = index of the right one."""
    p = pred / np.linalg.norm(pred, axis=1, keepdims=True).clip(1e-8)
    c = candidates / np.linalg.norm(candidates, axis=1, keepdims=True).clip(1e-8)
    sims = p @ c.T  # (N, K)
    ranks = 1 + (sims > sims[np.arange(len(p)), truth][:, None]).sum(1)  # 1 = best
    k = len(c)
    return {
        "r@1": float(np.mean(ranks <= 1)),
        "r@5": float(np.mean(ranks <= 5)),
        "median_rank": float(np.median(ranks)),
        "n_queries": int(len(p)),
        "n_candidates": int(k),
        "chance_r@1": 1.0 / k,
        "chance_r@5": min(5, k) / k,
        "chance_median_rank": (k + 1) / 2,
    }


def evaluate(pred: np.ndarray, target_rows: np.ndarray, texts: list[str]) -> dict:
    """Retrieval among the distinct held-out sentences + mean cosine of each prediction to its target."""
    uniq = sorted(set(texts))
    index = {t: i for i, t in enumerate(uniq)}
    cand = np.stack([target_rows[texts.index(t)] for t in uniq])
    truth = np.array([index[t] for t in texts])
    cos = np.sum(pred * target_rows, 1) / (
        np.linalg.norm(pred, axis=1) * np.linalg.norm(target_rows, axis=1)
    ).clip(1e-8)
    return {**retrieval(pred, cand, truth), "cosine_to_target": float(cos.mean())}


# ---------------------------------------------------------------------------------------------
# training


def _split(n: int, val_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[val_size:]), np.sort(order[:val_size])


def host_encoder(recipe: Wav2SemRecipe, corpus_dir=None):
    """The frozen encoder a lite head reads (tiny-hubert: the one pretrained on `corpus_dir`, default corpus if None)."""

    return load_encoder(recipe.host_encoder, corpus=corpus_dir)


def train_wav2sem(
    audio_paths: list[Path],
    texts: list[str],
    recipe: Wav2SemRecipe,
    out_dir,
    on_log=None,
    resume: bool = True,
    host=None,
    force: bool = False,
):
    """Train one Wav2Sem on (audio, text) pairs; save it with save_pretrained into out_dir/model.

    `host`: for lite, the frozen encoder (default: `host_encoder(recipe)`). Returns (model, history,
    validation metrics).
    """

    set_seed(recipe.train.seed)
    out_dir = Path(out_dir)
    claim(out_dir, "wav2sem")  # the folder's manifest lists what the run writes (w2s.utils.owned)
    text_model = load_text_model(recipe.text_model, recipe.text_kind)
    targets = cached_embed(text_model, list(texts))  # (N, D)
    tr, va = _split(len(texts), min(recipe.val_size, len(texts) // 5), recipe.train.seed)
    # the training sentences, each once: InfoNCE's candidates with negatives="all"
    uniq = sorted({texts[i] for i in tr})
    row = {t: k for k, t in enumerate(uniq)}
    labels = [row[texts[i]] for i in tr]
    first = {k: i for i, k in reversed(list(zip(tr, labels)))}  # sentence row -> its first training utterance
    bank = torch.as_tensor(targets[[first[k] for k in range(len(uniq))]], dtype=torch.float32)  # (K, D)
    center = bank.mean(0) if recipe.center_targets else None  # (D,)
    vocab, phones = None, None
    if recipe.ctc_weight > 0:
        seqs = phoneme_sequences([texts[i] for i in tr])
        vocab = PhonemeVocab.from_sequences(seqs)
        phones = [vocab.encode(q) for q in seqs]
    head = dict(pooling=recipe.pooling, ctc_vocab_size=vocab.size if vocab else 0)

    if recipe.config == "lite":
        host = host or host_encoder(recipe)
        feats = [
            cached_encode(host, load_audio(p))
            for p in progress(audio_paths, desc="host features", unit="utt")
        ]
        cfg = Wav2SemConfig.lite(input_dim=host.dim, target_dim=targets.shape[1], **head)
        inputs = feats
        copies = None
        if recipe.augment != "none":
            copies = [augmented_features(host, audio_paths[i], recipe, i)
                      for i in progress(tr, desc="perturbed copies", unit="utt")]  # fmt: skip
        train_set = FeatureTargets([feats[i] for i in tr], targets[tr], labels, phones, copies, recipe.train.seed)
    else:
        base = Wav2SemConfig.tiny if recipe.config == "tiny" else Wav2SemConfig.paper
        init = {"init_from": recipe.init_from} if recipe.init_from else {}
        cfg = base(target_dim=targets.shape[1], **init, **head)
        inputs = None
        train_set = AudioTargets([audio_paths[i] for i in tr], targets[tr], recipe.max_seconds, recipe.train.seed,
                                 labels, phones)  # fmt: skip
    set_seed(recipe.train.seed)  # the init depends on the seed alone, not on what loading the encoders drew
    model = Wav2Sem(cfg)

    val_inputs = [inputs[i] for i in va] if inputs is not None else [load_audio(audio_paths[i]) for i in va]
    val_texts = [texts[i] for i in va]

    def step_fn(net, batch, device):
        x, mask, y, lab, ids, lengths = (t.to(device) for t in batch)
        h, fm = net.frames(x, mask)  # (B, T, C), (B, T)
        pred = net.head(h, fm)  # (B, D)
        loss = semantic_loss(pred, y, recipe.loss, None if center is None else center.to(device))
        logs = {}
        if recipe.infonce_weight > 0:
            cands, which = (
                (bank.to(device), lab)
                if recipe.negatives == "all"
                else (y, torch.arange(len(y), device=device))
            )
            nce = info_nce(
                pred, cands, which, recipe.temperature, None if center is None else center.to(device)
            )
            loss, logs["infonce"] = loss + recipe.infonce_weight * nce, float(nce.detach())
        if recipe.ctc_weight > 0:
            ctc = ctc_loss(net.ctc_logits(h).float().log_softmax(-1), fm, ids, lengths)
            loss, logs["ctc"] = loss + recipe.ctc_weight * ctc, float(ctc.detach())
        return loss, logs

    def eval_fn(m):
        return evaluate(m.predict(val_inputs), targets[va], val_texts)

    data = key_of([[str(p) for p in audio_paths], list(texts), host.identity if host is not None else None])
    fit_recipe = {"wav2sem": {k: v for k, v in _recipe_json(recipe).items() if k != "train"},
                  "text_model": text_model.identity, "data": data}  # a checkpoint of another recipe is refused
    hist: History = fit(model, train_set, collate, step_fn, recipe.train, out_dir=out_dir / "train",
                        eval_fn=eval_fn, resume=resume, on_log=on_log, recipe=fit_recipe, force=force)  # fmt: skip
    model.save_pretrained(out_dir / "model")
    meta = {"recipe": _recipe_json(recipe), "text_model": text_model.identity, "n_train": len(tr), "n_val": len(va),
            "history": hist.to_json(), "val": hist.evals[-1] if hist.evals else None,
            "ctc_phonemes": list(vocab.symbols) if vocab else None}  # fmt: skip
    write_json(out_dir / "wav2sem_run.json", meta, indent=1)  # NaN as null: strict JSON
    return model, hist, meta["val"]


def _recipe_json(recipe: Wav2SemRecipe) -> dict:
    d = asdict(recipe)
    d["train"] = asdict(recipe.train)
    return d


# TrainConfig fields added after the first models were cached: keyed only when changed, so that
# models trained before they existed (with these very values) are found again
_LATER_TRAIN_FIELDS = {"decay_1d_params": True, "betas": (0.9, 0.999), "eps": 1e-8}
_LATER_RECIPE_FIELDS = {"pooling": "mean", "ctc_weight": 0.0, "infonce_weight": 0.0, "negatives": "batch",
                        "temperature": 0.05, "center_targets": False, "augment": "none", "augment_copies": 0}  # fmt: skip


def recipe_key(recipe: Wav2SemRecipe, data_key: str) -> str:
    d = _recipe_json(recipe)
    d["train"] = {
        k: v for k, v in d["train"].items() if not (k in _LATER_TRAIN_FIELDS and v == _LATER_TRAIN_FIELDS[k])
    }
    d = {k: v for k, v in d.items() if not (k in _LATER_RECIPE_FIELDS and v == _LATER_RECIPE_FIELDS[k])}
    return key_of({"recipe": d, "data": data_key, "v": 1}, n=12)


def load_or_train(
    audio_paths, texts, recipe: Wav2SemRecipe, data_key: str, root=None, on_log=None, host_corpus=None, on_train=None
):
    """A trained Wav2Sem for (recipe, data): loaded from data/models/ when there, trained otherwise.

    host_corpus: for lite, the corpus whose tiny-hubert it reads (the key includes that encoder's identity).
    on_train(folder): called before a training starts (not when the model is loaded).
    """

    host = None
    if recipe.config == "lite":
        host = host_encoder(recipe, host_corpus)
        data_key = f"{data_key}|{host.identity}"
    root = Path(root) if root else data_dir() / "models"
    out = root / f"wav2sem-{recipe.config}-{recipe_key(recipe, data_key)}"
    if (out / "model" / "config.json").is_file() and (out / "wav2sem_run.json").is_file():
        meta = json.loads((out / "wav2sem_run.json").read_text())
        return Wav2Sem.from_pretrained(out / "model"), History(**meta["history"]), meta["val"], out
    if on_train is not None:
        on_train(out)
    model, hist, val = train_wav2sem(audio_paths, texts, recipe, out, on_log=on_log, host=host)
    return model, hist, val, out


# ---------------------------------------------------------------------------------------------
# data sources, the training schedule, and held-out evaluation


def train_config(steps: int, lr: float = 1e-3, batch_size: int = 8, seed: int = 0) -> TrainConfig:
    """The schedule `w2s wav2sem train` and notebook 02 use: warm-up over 10 % of the steps (at most 80),
    a log entry every 10 % (at most every 10 steps), four evaluations and four checkpoints."""
    return TrainConfig(max_steps=steps, batch_size=batch_size, lr=lr, warmup_steps=max(1, min(80, steps // 10)),
                       log_every=max(1, min(10, steps // 10)), eval_every=max(1, steps // 4),
                       checkpoint_every=max(1, steps // 4), seed=seed)  # fmt: skip


def evaluate_on_corpus(model, recipe: Wav2SemRecipe, corpus_dir, split: str = "test") -> dict:
    """Held-out retrieval on the face corpus's `split` (unseen speakers, sentences never trained on)."""
    corpus = Corpus.open(corpus_dir)
    stems = corpus.stems(split)
    texts = [corpus.transcripts[s] for s in stems]
    wavs = [load_audio(corpus.root / "wav" / f"{s}.wav") for s in stems]
    if recipe.config == "lite":
        host = host_encoder(recipe, corpus.root)
        inputs = [cached_encode(host, w) for w in wavs]
    else:
        inputs = wavs
    targets = cached_embed(load_text_model(recipe.text_model, recipe.text_kind), texts)
    return {"split": split, **evaluate(model.predict(inputs), targets, texts)}


# notebook 02's `lite` with its default levers: the F_s notebooks 03-04 and `w2s animate` use
LITE_DEFAULTS = dict(text_model="all-MiniLM-L6-v2", text_kind="auto", loss="l1", host_encoder="tiny-hubert",
                     infonce_weight=1.0, negatives="all", ctc_weight=0.5, pooling="attention", center_targets=True)  # fmt: skip


def default_wav2sem(corpus_dir, steps: int = 1500, n_speech: int = 2000, seed: int = 0, on_log=None,
                    data_seed: int = 0, on_train=None) -> Path:  # fmt: skip
    """The folder of notebook 02's `lite` Wav2Sem (its default parameters, `steps` training steps, training seed
    `seed`; the speech set of `data_seed`, notebook 02's SEED) for the face corpus `corpus_dir`: loaded from
    data/models/ when notebook 02 trained it, else trained now (same key; `on_train(folder)` first)."""
    recipe = Wav2SemRecipe(config="lite", **LITE_DEFAULTS, train=train_config(steps, lr=1e-3, seed=seed))
    paths, texts, data_key = training_pairs(corpus_dir, n_speech, data_seed)
    *_, out = load_or_train(paths, texts, recipe, data_key, host_corpus=corpus_dir, on_log=on_log, on_train=on_train)
    return out / "model"


def default_wav2sems(corpus_dir, seeds, steps: int = 1500, n_speech: int = 2000, workers: int | None = None,
                     data_seed: int = 0) -> list[Path]:  # fmt: skip
    """:func:`default_wav2sem` for each training seed in `seeds` (the grid's: every seed of a host reads the
    Wav2Sem of its own seed), those not trained yet trained in parallel processes."""
    recipes = [Wav2SemRecipe(config="lite", **LITE_DEFAULTS, train=train_config(steps, lr=1e-3, seed=k)) for k in seeds]
    paths, texts, data_key = training_pairs(corpus_dir, n_speech, data_seed)
    return [out / "model" for out in load_or_train_many(paths, texts, recipes, data_key, corpus_dir, workers)]


def _load_or_train_folder(audio_paths, texts, recipe, data_key, root, host_corpus) -> str:
    configure_threads()
    *_, out = load_or_train(audio_paths, texts, recipe, data_key, root=root, host_corpus=host_corpus)
    return str(out)


def load_or_train_many(audio_paths, texts, recipes: list[Wav2SemRecipe], data_key: str, host_corpus=None,
                       workers: int | None = None, root=None) -> list[Path]:  # fmt: skip
    """:func:`load_or_train` for several recipes on the same data (e.g. training seeds); returns their folders.
    Those not trained yet train in `workers` spawned processes (default: one per CPU, at most 4), each with
    w2s's fixed thread count, so a model is the same whichever process trained it. The host features of a
    lite recipe are encoded (and cached) here first, so that no two workers encode them at once."""
    root = Path(root) if root else data_dir() / "models"
    todo, hosts = [], {}
    for r in recipes:
        key = data_key
        if r.config == "lite":
            if r.host_encoder not in hosts:  # encoded once per host encoder, whatever the number of seeds
                hosts[r.host_encoder] = host_encoder(r, host_corpus)
                for p in progress(audio_paths, desc="host features", unit="utt"):
                    cached_encode(hosts[r.host_encoder], load_audio(p))
            key = f"{data_key}|{hosts[r.host_encoder].identity}"
        out = root / f"wav2sem-{r.config}-{recipe_key(r, key)}"
        if not ((out / "model" / "config.json").is_file() and (out / "wav2sem_run.json").is_file()):
            todo.append(r)
    jobs = [(audio_paths, texts, r, data_key, root, host_corpus) for r in todo]
    for _ in in_processes(_load_or_train_folder, jobs, default_workers(len(jobs), workers)):
        pass
    return [load_or_train(audio_paths, texts, r, data_key, root=root, host_corpus=host_corpus)[3] for r in recipes]
