"""The phoneme-recognition check with and without F_s, and the lever sweep's table rows."""

import json

import numpy as np
import pytest

from w2s.evaluation.analysis import probe_with_semantics
from w2s.evaluation.report import lever_rows


def test_probe_with_semantics_uses_the_sentence_vector():
    """Each utterance is one phoneme; the frames are noise and F_s names the phoneme: the probe without
    F_s stays near chance, with it it is (nearly) always right. Same frames both ways."""
    rng = np.random.default_rng(0)
    phones = ["a", "b", "c"]
    F_p, F_s, alignments = {}, {}, {}
    for subject in ("S1", "S2", "S3"):
        for k in range(12):
            stem, ph = f"{subject}_sentence{k:02d}", k % 3
            F_p[stem] = rng.normal(size=(20, 6)).astype(np.float32)
            F_s[stem] = np.eye(3, dtype=np.float32)[ph] + 0.01 * rng.normal(size=3).astype(np.float32)
            alignments[stem] = {"phonemes": [{"symbol": phones[ph], "start": 0.0, "end": 0.4}]}
    r = probe_with_semantics(F_p, F_s, 50.0, alignments, ["S1", "S2"], seed=0)
    assert r["with"]["n_test"] == r["without"]["n_test"] == 12 * 20
    assert r["without"]["accuracy"] < 0.5 and r["with"]["accuracy"] > 0.95
    assert r["with"]["frame_error_rate"] == pytest.approx(1 - r["with"]["accuracy"])
    assert probe_with_semantics(F_p, F_s, 50.0, alignments, ["S1", "S2"], seed=0, without=r["without"]) == r


def test_lever_rows(tmp_path):
    path = tmp_path / "levers.jsonl"
    assert lever_rows(path) == []
    row = {"name": "x", "n_speech": 2000, "steps": 1000, "config": "lite", "infonce_weight": 1.0, "r@1": 0.9,
           "r@5": 1.0, "median_rank": 1.0, "cosine_to_target": 0.3, "abx_near": 0.29, "abx_near_without": 0.31,
           "train_minutes": 7.5, "load_average": 2.0}  # fmt: skip
    path.write_text(json.dumps(row) + "\n\n")
    (r,) = lever_rows(path)
    assert r["R@1"] == 0.9 and "infonce_weight=1.0" in r["row"] and r["near ABX without → with"] == "0.310 → 0.290"
    assert r["split"] == "test"  # a row from before the benchmark recorded its split read test
    path.write_text(json.dumps({**row, "split": "val"}) + "\n")
    assert lever_rows(path)[0]["split"] == "val"
    path.write_text("{broken\n")
    with pytest.raises(ValueError, match="line 1"):
        lever_rows(path)
