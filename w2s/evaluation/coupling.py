"""How strongly a speech encoder couples words: measures computed from frame features + alignments.

Wav2Sem's premise is that self-supervised speech features put near-homophones (bad/bed, tub/tug: one
phoneme apart, similar sound, different lips) close together. The paper's evidence (its §4.4; see
``reference/wav2sem-paper.md`` §5) is one number per encoder: the mean over word pairs of

    ‖μ(a) − μ(b)‖₂        μ(w) = mean of the word-level features of every spoken token of w

(wav2vec 2.0: 0.0397 → 0.0701 with Wav2Sem; HuBERT: 0.2689 → 0.2909). A raw L2 distance cannot be
compared across encoders (every space has its own scale), so next to it we report

* ``normalised_distance``: decoupling distance / within-word spread (mean L2 between two tokens of
  the same word from different utterances). Scale-free; ~1 means a pair's two words sit as far apart
  as two renditions of one word.
* ``abx_error``: for tokens A, A' (same word, another speaker when possible) and B (the other word
  of the pair), how often B is closer to A than A' is. 0 = the words are perfectly separated,
  0.5 = indistinguishable. Cosine distance by default. ``abx_error_b_other_speaker`` also takes B
  from another speaker than A's (see ``abx_error``: the corpus confounds words with speakers).
* a phoneme coupling matrix: the normalised centroid distance d(a, b) = ‖μa − μb‖ / sqrt((sa²+sb²)/2)
  between the frame features of every pair of phonemes, as ``corpus/phone_distance.py`` measures
  on log-mel for the acoustic table (d < 1: the phonemes overlap in this feature space).

Everything is reported per pair group of the corpus: ``near`` (acoustically close, different
visemes: the pairs Wav2Sem is about), ``same_viseme`` and ``far`` (controls). A word-level feature is
the mean of the frames whose centre time (k + 0.5) / rate falls inside the word's span.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from w2s.corpus.pairs import GROUPS
from w2s.data.files import normalise_word, parse_stem
from w2s.data.phoneme_frames import frame_centres, frame_labels

MIN_PHONEME_FRAMES = 20  # phonemes with fewer labelled frames get no row in the coupling matrix


# ---------------------------------------------------------------------------------------------
# frames <-> alignment


def span_frames(n_frames: int, rate_hz: float, start: float, end: float) -> np.ndarray:
    """Indices of the frames whose centre lies in [start, end); the nearest frame if there is none."""
    t = frame_centres(n_frames, rate_hz)
    idx = np.flatnonzero((t >= start) & (t < end))
    if idx.size == 0 and n_frames > 0:
        mid = 0.5 * (start + end)
        idx = np.array([int(np.clip(np.argmin(np.abs(t - mid)), 0, n_frames - 1))])
    return idx


# ---------------------------------------------------------------------------------------------
# word tokens


@dataclass
class Token:
    word: str  # normalised (lowercase, no punctuation)
    stem: str  # utterance
    subject: str  # speaker
    vector: np.ndarray  # (D,) mean of the word's frames


def word_tokens(
    features: np.ndarray, rate_hz: float, words: Sequence[dict], stem: str, subject: str
) -> list[Token]:
    """One Token per word of an utterance; features (T, D) at rate_hz frames per second."""
    features = np.asarray(features)
    if features.ndim != 2:
        raise ValueError(f"{stem}: features must be (T, D), got shape {features.shape}")
    out = []
    for w in words:
        idx = span_frames(len(features), rate_hz, w["start"], w["end"])
        if idx.size:
            out.append(Token(normalise_word(w["word"]), stem, subject, features[idx].mean(0)))
    return out


def _by_word(tokens: Iterable[Token]) -> dict[str, list[Token]]:
    d: dict[str, list[Token]] = defaultdict(list)
    for t in tokens:
        d[t.word].append(t)
    return d


def _pair_words(pair) -> tuple[str, str]:
    if isinstance(pair, dict):
        return normalise_word(pair["word_a"]), normalise_word(pair["word_b"])
    a, b = pair
    return normalise_word(a), normalise_word(b)


# ---------------------------------------------------------------------------------------------
# word-level measures


@dataclass
class PairDistances:
    distances: list[float]  # ‖μ(a) − μ(b)‖₂ of every usable pair
    used: list[tuple[str, str]]
    skipped: list[tuple[str, str]]  # a word without any token

    @property
    def mean(self) -> float:
        return float(np.mean(self.distances)) if self.distances else math.nan


def pair_distances(tokens: Iterable[Token], pairs: Iterable) -> PairDistances:
    byw = _by_word(tokens)
    mu = {w: np.mean([t.vector for t in ts], 0) for w, ts in byw.items()}  # word -> (D,)
    res = PairDistances([], [], [])
    for p in pairs:
        a, b = _pair_words(p)
        if a in mu and b in mu:
            res.distances.append(float(np.linalg.norm(mu[a] - mu[b])))
            res.used.append((a, b))
        else:
            res.skipped.append((a, b))
    return res


def decoupling_distance(tokens: Iterable[Token], pairs: Iterable) -> float:
    """The paper's measure: mean over pairs of ‖μ(a) − μ(b)‖₂; nan if no pair has tokens for both words.

    Pairs lacking tokens are skipped; ``pair_distances`` says which (and ``coupling_report`` counts them).
    """
    return pair_distances(tokens, pairs).mean


def within_word_spread(tokens: Iterable[Token], words: Iterable[str]) -> float:
    """Mean L2 distance between two tokens of one word from different utterances, averaged over words.

    Words with fewer than two such tokens are left out; nan if none is left.
    """
    byw = _by_word(tokens)
    per_word = []
    for w in dict.fromkeys(normalise_word(w) for w in words):
        ts = byw.get(w, [])
        if len(ts) < 2:
            continue
        V = np.stack([t.vector for t in ts])  # (n, D)
        stems = np.array([t.stem for t in ts])
        d = np.linalg.norm(V[:, None] - V[None], axis=-1)  # (n, n)
        other = stems[:, None] != stems[None]  # different utterances only (also drops the diagonal)
        if other.any():
            per_word.append(float(d[other].mean()))
    return float(np.mean(per_word)) if per_word else math.nan


def _distance_matrix(X: np.ndarray, Y: np.ndarray, metric: str) -> np.ndarray:
    if metric == "cosine":
        Xn = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
        Yn = Y / np.maximum(np.linalg.norm(Y, axis=1, keepdims=True), 1e-12)
        return 1.0 - Xn @ Yn.T
    if metric in ("l2", "euclidean"):
        return np.linalg.norm(X[:, None] - Y[None], axis=-1)
    raise ValueError(f"unknown metric {metric!r}; use 'cosine' or 'l2'")


def _abx_one_way(A: list[Token], B: list[Token], metric: str, b_speaker: str) -> float:
    """Error rate of "is b_k closer to a_i than a_j is" over the triples (a_i, a_j, b_k)."""
    XA = np.stack([t.vector for t in A])  # (nA, D)
    XB = np.stack([t.vector for t in B])  # (nB, D)
    dAA = _distance_matrix(XA, XA, metric)  # (nA, nA)
    dAB = _distance_matrix(XA, XB, metric)  # (nA, nB)
    spk_a = np.array([t.subject for t in A])
    spk_b = np.array([t.subject for t in B])
    errs, n = 0.0, 0
    for i in range(len(A)):
        js = np.flatnonzero(np.arange(len(A)) != i)
        if (spk_a[js] != spk_a[i]).any():
            js = js[spk_a[js] != spk_a[i]]  # another speaker when there is one
        ks = np.arange(len(B))
        if b_speaker == "other" and (spk_b != spk_a[i]).any():
            ks = ks[spk_b != spk_a[i]]
        dij = dAA[i, js][:, None]  # (nj, 1)
        dik = dAB[i, ks][None, :]  # (1, nk)
        errs += float((dik < dij).sum() + 0.5 * (dik == dij).sum())
        n += dij.size * dik.size
    return errs / n


def abx_error(tokens: Iterable[Token], pair, metric: str = "cosine", b_speaker: str = "any") -> float:
    """ABX error of a word pair, both directions averaged (A/B swapped); nan if a word has < 2 tokens.

    For every token a_i of A, every other a_j of A (from another speaker when one exists) and every
    b_k of B: an error when d(a_i, b_k) < d(a_i, a_j), ½ for a tie. pair: a pairs.json entry or a
    tuple (a, b). metric: "cosine" or "l2". b_speaker="other" keeps only b_k from speakers other than
    a_i's (when there are any): otherwise a B token from a_i's own speaker competes with an A token
    from another speaker, and a speaker-sensitive feature scores above 0.5 on a corpus where both
    words of a pair were read by the same speaker (ours, for the held-out subjects and the controls).
    """
    if metric not in ("cosine", "l2", "euclidean"):
        raise ValueError(f"unknown metric {metric!r}; use 'cosine' or 'l2'")
    if b_speaker not in ("any", "other"):
        raise ValueError(f"b_speaker must be 'any' or 'other', got {b_speaker!r}")
    a, b = _pair_words(pair)
    byw = _by_word(tokens)
    A, B = byw.get(a, []), byw.get(b, [])
    if len(A) < 2 or len(B) < 2:
        return math.nan
    return 0.5 * (_abx_one_way(A, B, metric, b_speaker) + _abx_one_way(B, A, metric, b_speaker))


# ---------------------------------------------------------------------------------------------
# phoneme-level measure


def phoneme_coupling_matrix(
    frame_features_list: Sequence[np.ndarray],
    rates: float | Sequence[float],
    alignments: Sequence[dict],
    min_frames: int = MIN_PHONEME_FRAMES,
    max_frames: int = 5000,
    seed: int = 0,
) -> tuple[list[str], np.ndarray]:
    """Normalised centroid distance between phonemes' frame features: (phonemes, (P, P) matrix).

    frame_features_list[i] (T_i, D) at rates[i] Hz (or one rate for all), alignments[i] an entry of
    alignments.json (its "phonemes"). Phonemes with fewer than `min_frames` frames are left out;
    a phoneme with more than `max_frames` frames keeps a fixed random subset of them (seeded).
    Symmetric, zero diagonal; d < 1: the two phonemes overlap in this feature space.
    """
    if len(frame_features_list) != len(alignments):
        raise ValueError(f"{len(frame_features_list)} feature arrays but {len(alignments)} alignments")
    if np.isscalar(rates):
        rates = [float(rates)] * len(frame_features_list)
    frames: dict[str, list[np.ndarray]] = defaultdict(list)
    for F, r, al in zip(frame_features_list, rates, alignments, strict=True):
        F = np.asarray(F, dtype=np.float64)
        lab = frame_labels(len(F), r, al["phonemes"])
        for s in set(lab) - {""}:
            frames[s].append(F[lab == s])
    rng = np.random.default_rng(seed)
    phonemes = sorted(s for s, fs in frames.items() if sum(len(f) for f in fs) >= min_frames)
    cents, spread2 = [], []
    for s in phonemes:
        X = np.concatenate(frames[s])  # (n, D)
        if len(X) > max_frames:
            X = X[np.sort(rng.choice(len(X), max_frames, replace=False))]
        c = X.mean(0)
        cents.append(c)
        spread2.append(np.mean(np.sum((X - c) ** 2, 1)))
    if not phonemes:
        return [], np.zeros((0, 0))
    C, s2 = np.stack(cents), np.array(spread2)  # (P, D), (P,)
    diff = np.linalg.norm(C[:, None] - C[None], axis=-1)  # (P, P)
    M = diff / np.maximum(np.sqrt((s2[:, None] + s2[None]) / 2), 1e-12)
    M = 0.5 * (M + M.T)
    np.fill_diagonal(M, 0.0)
    return phonemes, M


# ---------------------------------------------------------------------------------------------
# the report


def _f(x) -> float | None:
    """JSON-ready float: nan/inf -> None."""
    x = float(x)
    return x if math.isfinite(x) else None


def _group_pair_means(phonemes: list[str], M: np.ndarray, pairs: list[dict]) -> dict:
    """Mean matrix entry over the phoneme pairs each group substitutes, and over all other entries."""
    index = {s: i for i, s in enumerate(phonemes)}
    cells: dict[str, set] = {}
    for g in GROUPS:
        cells[g] = set()
        for p in pairs:
            a, b = p["phoneme_a"].lstrip("ˈˌ"), p["phoneme_b"].lstrip("ˈˌ")
            if p.get("group", "near") == g and a in index and b in index and a != b:
                cells[g].add(tuple(sorted((index[a], index[b]))))
    iu = [(i, j) for i in range(len(phonemes)) for j in range(i + 1, len(phonemes))]
    out = {}
    for g in GROUPS:
        vals = [M[c] for c in cells[g]]
        out[g] = {"mean": _f(np.mean(vals)) if vals else None, "n_phoneme_pairs": len(vals)}
    rest = [M[c] for c in iu if c not in cells["near"]]
    out["rest"] = {"mean": _f(np.mean(rest)) if rest else None, "n_phoneme_pairs": len(rest)}
    return out


def corpus_tokens(
    features_by_stem: dict[str, np.ndarray], rate_hz: float, alignments: dict[str, dict], words: Iterable[str]
) -> list[Token]:
    """Word tokens of `words` in every utterance (subject read from the {SUBJECT}_sentenceNN stem)."""

    wanted = {normalise_word(w) for w in words}
    tokens = []
    for stem, F in features_by_stem.items():
        ws = [w for w in alignments[stem]["words"] if normalise_word(w["word"]) in wanted]
        tokens += word_tokens(F, rate_hz, ws, stem, parse_stem(stem)[0])
    return tokens


def coupling_report(
    features_by_stem: dict[str, np.ndarray],
    rate_hz: float,
    alignments: dict[str, dict],
    pairs: list[dict],
    metric: str = "cosine",
) -> dict:
    """Every coupling measure, per pair group, as a JSON-ready dict.

    features_by_stem: {stem: (T, D)} at rate_hz; alignments / pairs: the corpus's alignments.json /
    pairs.json. Subjects come from the stems ({SUBJECT}_sentenceNN). nan becomes None.
    """
    missing = [s for s in features_by_stem if s not in alignments]
    if missing:
        raise KeyError(f"no alignment for {len(missing)} stem(s), e.g. {missing[0]!r}")
    tokens = corpus_tokens(features_by_stem, rate_hz, alignments, {w for p in pairs for w in _pair_words(p)})
    n_tok = {w: len(ts) for w, ts in _by_word(tokens).items()}

    groups = {}
    for g in GROUPS:
        gp = [p for p in pairs if p.get("group", "near") == g]
        pd = pair_distances(tokens, gp)
        spread = within_word_spread(tokens, [w for ab in pd.used for w in ab])
        per_pair = []
        for p in gp:
            a, b = _pair_words(p)
            per_pair.append({"word_a": a, "word_b": b, "abx": _f(abx_error(tokens, p, metric)),
                             "abx_b_other_speaker": _f(abx_error(tokens, p, metric, b_speaker="other")),
                             "n_a": n_tok.get(a, 0), "n_b": n_tok.get(b, 0)})  # fmt: skip
        abx = [q["abx"] for q in per_pair if q["abx"] is not None]
        abx_o = [q["abx_b_other_speaker"] for q in per_pair if q["abx_b_other_speaker"] is not None]
        groups[g] = {
            "n_pairs": len(pd.used),
            "n_skipped": len(pd.skipped),
            "decoupling_distance": _f(pd.mean),
            "within_word_spread": _f(spread),
            "normalised_distance": _f(pd.mean / spread) if spread > 0 else None,
            "abx_error": _f(np.mean(abx)) if abx else None,
            "abx_error_b_other_speaker": _f(np.mean(abx_o)) if abx_o else None,
            "n_abx_pairs": len(abx),
            "pairs": per_pair,
        }

    stems = list(features_by_stem)
    phonemes, M = phoneme_coupling_matrix(
        [features_by_stem[s] for s in stems], rate_hz, [alignments[s] for s in stems]
    )
    return {
        "rate_hz": float(rate_hz),
        "metric": metric,
        "n_utterances": len(stems),
        "n_tokens": len(tokens),
        "groups": groups,
        "phoneme_matrix": {
            "phonemes": phonemes,
            "matrix": np.round(M, 5).tolist(),
            "pair_means": _group_pair_means(phonemes, M, pairs),
        },
    }
