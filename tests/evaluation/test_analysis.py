"""`w2s coupling` end to end on a smoke corpus (tiny HuBERT with the seconds-long smoke recipe)."""

import json

from w2s.cli import main


def test_coupling_cli_tiny_hubert(smoke_corpus, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("W2S_DATA_DIR", str(tmp_path / "data"))  # fresh caches: really pretrains
    out = tmp_path / "c.json"
    assert main(["coupling", "--encoder", "tiny-hubert", "--corpus", str(smoke_corpus), "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert set(report["groups"]) == {"near", "same_viseme", "far"}
    for g in report["groups"].values():
        assert g["n_pairs"] >= 1 and g["abx_error"] is not None and 0 <= g["abx_error"] <= 1
        assert g["normalised_distance"] > 0
    assert report["encoder"]["name"] == "tiny-hubert" and report["encoder"]["rate"] == 50
    assert 0 < report["probe"]["accuracy"] <= 1
    assert "ABX error" in capsys.readouterr().out
    # the second run reuses the pretrained model and the feature cache
    cached = list((tmp_path / "data" / "cache" / "features").rglob("*.npy"))
    assert len(cached) >= 48
    assert main(["coupling", "--encoder", "tiny-hubert", "--corpus", str(smoke_corpus), "--out", str(out), "--no-probe"]) == 0
    assert len(list((tmp_path / "data" / "cache" / "features").rglob("*.npy"))) == len(cached)


def test_coupling_cli_bad_input(tmp_path, capsys):
    out = tmp_path / "c.json"
    assert main(["coupling", "--encoder", "mfcc", "--corpus", str(tmp_path / "nope"), "--out", str(out)]) == 2
    assert "missing" in capsys.readouterr().err
    assert main(["coupling", "--encoder", "mfcc", "--corpus", str(tmp_path), "--out", str(tmp_path / "c.txt")]) == 2
    assert list(tmp_path.iterdir()) == []
