import numpy as np
import pytest

from w2s.evaluation.probe import frame_phoneme_dataset, linear_probe


def synthetic(n_per_speaker=300, speakers=("S1", "S2", "S3", "S4"), n_classes=4, dim=8, sep=5.0, seed=0):
    """Gaussian classes with means `sep` apart along the axes: X (N, dim), y, subjects."""
    rng = np.random.default_rng(seed)
    X, y, s = [], [], []
    for spk in speakers:
        c = rng.integers(0, n_classes, n_per_speaker)
        X.append(rng.standard_normal((n_per_speaker, dim)) + sep * np.eye(dim)[c])
        y.append(np.array([f"p{k}" for k in c]))
        s.append(np.full(n_per_speaker, spk))
    return np.concatenate(X), np.concatenate(y), np.concatenate(s)


def test_frame_phoneme_dataset_keeps_frames_inside_segments():
    al = {"phonemes": [{"symbol": "a", "start": 0.0, "end": 0.3}, {"symbol": "b", "start": 0.5, "end": 0.8}]}
    feats = {"S1_sentence01": np.arange(10.0)[:, None], "S2_sentence03": 100 + np.arange(10.0)[:, None]}
    X, y, s = frame_phoneme_dataset(feats, 10.0, {"S1_sentence01": al, "S2_sentence03": al})
    assert X.shape == (12, 1) and X.dtype == np.float32
    assert X[:6, 0].tolist() == [0, 1, 2, 5, 6, 7]  # centres 0.05..0.25 and 0.55..0.75
    assert y.tolist() == ["a"] * 3 + ["b"] * 3 + ["a"] * 3 + ["b"] * 3
    assert s.tolist() == ["S1"] * 6 + ["S2"] * 6
    with pytest.raises(KeyError):
        frame_phoneme_dataset({"S3_sentence01": np.zeros((5, 1))}, 10.0, {})


def test_separable_classes_accuracy_one():
    X, y, s = synthetic(sep=10.0)
    res = linear_probe(X, y, np.isin(s, ["S1", "S2"]))
    assert res["accuracy"] >= 0.99
    assert res["n_classes"] == 4 and 0.2 < res["chance"] < 0.4
    assert res["n_train"] == 600 and res["n_test"] == 600


def test_random_features_near_chance():
    rng = np.random.default_rng(1)
    n = 2000
    y = rng.choice(["a", "b", "c"], n, p=[0.6, 0.3, 0.1])  # imbalanced: chance = share of "a"
    X = rng.standard_normal((n, 16))
    train = np.arange(n) < n // 2
    res = linear_probe(X, y, train)
    assert res["chance"] == pytest.approx(np.mean(y[~train] == "a"))
    assert abs(res["accuracy"] - res["chance"]) < 0.05


def test_speaker_split_respected():
    # train speakers map x>0 to "a", test speakers to "b": trained on train speakers only, the probe
    # gets every test frame wrong
    rng = np.random.default_rng(2)
    x = rng.choice([-1.0, 1.0], 400)[:, None] * (1 + rng.random((400, 1)))  # (400, 1)
    s = np.repeat(["S1", "S2", "S3", "S4"], 100)
    train = np.isin(s, ["S1", "S2"])
    y = np.where((x[:, 0] > 0) == train, "a", "b")
    res = linear_probe(x, y, train)
    assert res["accuracy"] == 0.0
    assert res["n_train"] == 200 and res["n_test"] == 200


def test_subsampling_deterministic_and_unseen_classes_dropped():
    X, y, s = synthetic(n_per_speaker=500, n_classes=3)
    y = y.copy()
    y[s == "S4"] = np.where(y[s == "S4"] == "p0", "zz", y[s == "S4"])  # "zz": test speakers only
    train = np.isin(s, ["S1", "S2"])
    r1 = linear_probe(X, y, train, seed=0, max_train=300)
    r2 = linear_probe(X, y, train, seed=0, max_train=300)
    assert r1 == r2 and r1["n_train"] == 300
    assert r1["n_classes"] == 3
    assert r1["n_test"] == int((~train).sum() - (y == "zz").sum())
    with pytest.raises(ValueError):
        linear_probe(X, y, train[:-1])
