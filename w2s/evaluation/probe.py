"""Phonetic probe: how much phoneme identity a linear read-out finds in an encoder's frame features.

Every frame whose centre time (k + 0.5) / rate falls inside a phoneme segment of the alignment is
labelled with that phoneme. A multinomial logistic regression is trained on the frames of some
speakers (the corpus's training subjects) and tested on the frames of the others, so the probe
measures speaker-independent phonetic content. Chance is the share of the most frequent phoneme in
the test frames.

Cost: lbfgs on at most `max_train` frames (default 20,000, a fixed random subset drawn with the seed),
standardised features, at most 300 iterations. Measured on 2 shared cores, 57 phoneme classes:
39-d MFCC (53k frames) 3-6 s, 256-d (100k frames) ~15 s; expect ~3× that for 768-d SSL features
(pass a smaller `max_train` for quick looks).
"""

from __future__ import annotations

import warnings

import numpy as np

from w2s.data.phoneme_frames import frame_phoneme_dataset  # noqa: F401  (re-exported: it lived here)


def linear_probe(
    X: np.ndarray,
    y: np.ndarray,
    train_mask: np.ndarray,
    seed: int = 0,
    max_train: int = 20000,
    max_iter: int = 300,
) -> dict:
    """Train on X[train_mask], test on the rest; returns accuracy, chance, n_train, n_test, n_classes.

    Test frames of phonemes absent from the (subsampled) training set are dropped. `converged` says
    whether lbfgs stopped before `max_iter`.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    X, y = np.asarray(X), np.asarray(y)
    train_mask = np.asarray(train_mask, dtype=bool)
    if not (len(X) == len(y) == len(train_mask)):
        raise ValueError(f"X, y and train_mask disagree in length: {len(X)}, {len(y)}, {len(train_mask)}")
    tr, te = np.flatnonzero(train_mask), np.flatnonzero(~train_mask)
    if len(tr) > max_train:
        rng = np.random.default_rng(seed)
        tr = np.sort(rng.choice(tr, max_train, replace=False))
    classes = np.unique(y[tr])
    te = te[np.isin(y[te], classes)]
    if len(classes) < 2 or len(te) == 0:
        raise ValueError(
            f"probe needs >= 2 training classes and some test frames; got {len(classes)}, {len(te)}"
        )

    mu = X[tr].mean(0)
    sd = X[tr].std(0) + 1e-6
    Xtr = (X[tr] - mu) / sd  # (n_train, D)
    Xte = (X[te] - mu) / sd  # (n_test, D)
    clf = LogisticRegression(max_iter=max_iter, random_state=seed)  # lbfgs: multinomial
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(Xtr, y[tr])
    acc = float((clf.predict(Xte) == y[te]).mean())
    _, counts = np.unique(y[te], return_counts=True)
    return {
        "accuracy": acc,
        "chance": float(counts.max() / len(te)),
        "n_train": int(len(tr)),
        "n_test": int(len(te)),
        "n_classes": int(len(classes)),
        "converged": bool(np.max(clf.n_iter_) < max_iter),
    }
