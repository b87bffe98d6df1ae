"""The one checkpoint format: round trip, rejected folders, atomic writes, and Wav2Sem folders as before."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

import pytest
import torch
import torch.nn as nn
from safetensors import safe_open
from safetensors.torch import save_file

import w2s
from w2s.nn import checkpoint as ckpt
from w2s.nn.checkpoint import CheckpointError, CheckpointMixin, Config, local_folder
from w2s.semantic.wav2sem import Wav2Sem, Wav2SemConfig, Wav2SemError

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@dataclass(frozen=True)
class ToyConfig(Config):
    width: int = 4
    sizes: tuple[int, ...] = (2, 3)

    def __post_init__(self):
        object.__setattr__(self, "sizes", tuple(self.sizes))  # JSON lists -> tuples


class Toy(nn.Module, CheckpointMixin):
    config_class = ToyConfig

    def __init__(self, config: ToyConfig):
        super().__init__()
        self.config = config
        self.lin = nn.Linear(config.width, sum(config.sizes))
        self.norm = nn.LayerNorm(sum(config.sizes))

    def forward(self, x):
        return self.norm(self.lin(x))


class OtherToy(Toy):
    pass


def toy(seed: int = 0, **kw) -> Toy:
    torch.manual_seed(seed)
    model = Toy(ToyConfig(**kw))
    with torch.no_grad():
        model.norm.weight.add_(torch.randn(model.norm.weight.shape))  # not the default 1s
    return model


def test_round_trip(tmp_path):
    model = toy(width=5, sizes=(1, 2, 4)).train()
    folder = model.save_pretrained(tmp_path / "toy")
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
    meta = json.loads((folder / "config.json").read_text())
    assert meta == {"w2s_class": "Toy", "format_version": 1, "w2s_version": w2s.__version__,
                    "config": {"width": 5, "sizes": [1, 2, 4]}}  # fmt: skip
    loaded = Toy.from_pretrained(folder)
    assert loaded.config == model.config and not loaded.training
    x = torch.randn(3, 5)
    torch.testing.assert_close(loaded(x), model(x), atol=0, rtol=0)
    model.save_pretrained(folder)  # a checkpoint of the same class is replaced, nothing left behind
    assert [p.name for p in tmp_path.iterdir()] == ["toy"]
    assert Toy.from_pretrained(str(folder), map_location="cpu").lin.weight.device.type == "cpu"


def test_unknown_field_wrong_class_and_wrong_version_are_rejected_naming_the_file(tmp_path):
    folder = toy().save_pretrained(tmp_path / "toy")
    cfg = folder / "config.json"
    good = json.loads(cfg.read_text())

    cfg.write_text(json.dumps({**good, "config": {**good["config"], "depth": 2}}))
    with pytest.raises(CheckpointError, match=rf"{cfg}: unknown Toy config fields \['depth'\]"):
        Toy.from_pretrained(folder)
    cfg.write_text(json.dumps({**good, "format_version": 2}))
    with pytest.raises(CheckpointError, match=rf"{cfg}: format_version 2, this w2s reads 1"):
        Toy.from_pretrained(folder)
    cfg.write_text(json.dumps(good))
    with pytest.raises(CheckpointError, match=r"not a OtherToy checkpoint.*\(it is a 'Toy' checkpoint\)"):
        OtherToy.from_pretrained(folder)
    with pytest.raises(CheckpointError, match="not a OtherToy checkpoint; not overwriting"):
        OtherToy(ToyConfig()).save_pretrained(folder)
    save_file(
        {k: v for k, v in toy().state_dict().items() if k != "norm.bias"}, str(folder / "model.safetensors")
    )
    with pytest.raises(CheckpointError, match="missing tensors.*norm.bias"):
        Toy.from_pretrained(folder)
    (folder / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match="not a complete Toy checkpoint: no model.safetensors"):
        Toy.from_pretrained(folder)


def test_a_failed_save_leaves_the_old_checkpoint(tmp_path, monkeypatch):
    import safetensors.torch

    folder = toy(seed=0).save_pretrained(tmp_path / "toy")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}

    def broken(state, path, metadata=None):
        open(path, "wb").write(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(safetensors.torch, "save_file", broken)
    with pytest.raises(OSError, match="disk full"):
        toy(seed=1).save_pretrained(folder)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["toy"]


def test_local_folder_or_hub_name(tmp_path):
    (tmp_path / "f.txt").write_text("x")
    assert local_folder(tmp_path) == tmp_path
    assert local_folder("facebook/wav2vec2-base") is None and local_folder("gpt2") is None
    with pytest.raises(CheckpointError, match="is a file, not a folder"):
        local_folder(tmp_path / "f.txt")
    with pytest.raises(KeyError, match="model folder './nowhere' does not exist"):
        local_folder("./nowhere", "model folder", KeyError)
    for path in (tmp_path / "missing", "a/b/c", "~/surely-not-here-w2s"):
        with pytest.raises(CheckpointError, match="does not exist"):
            local_folder(path)


def test_presets_by_name():
    assert Wav2SemConfig.preset("tiny", target_dim=32) == Wav2SemConfig.tiny(target_dim=32)
    with pytest.raises(
        Wav2SemError, match=r"unknown Wav2Sem preset 'huge'; choose one of \['paper', 'tiny', 'lite'\]"
    ):
        Wav2SemConfig.preset("huge")


# ---------------------------------------------------------------------------------------------
# Wav2Sem: the folders written before the mixin still load, and the mixin writes the same files


def _old_format_folder(folder, model: Wav2Sem) -> None:
    """What Wav2Sem.save_pretrained wrote before w2s.nn.checkpoint (w2s 0.1.0, format 1), by hand."""
    folder.mkdir()
    cfg = {f.name: getattr(model.config, f.name) for f in dataclasses.fields(model.config)}
    cfg = {k: list(v) if isinstance(v, tuple) else v for k, v in cfg.items()}
    meta = {"w2s_class": "Wav2Sem", "format_version": 1, "w2s_version": "0.1.0", "config": cfg}
    (folder / "config.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt", "w2s_class": "Wav2Sem"})


def test_old_wav2sem_folder_loads_and_new_one_is_the_same(tmp_path, monkeypatch):
    monkeypatch.setattr(ckpt, "__version__", "0.1.0")
    torch.manual_seed(0)
    cfg = Wav2SemConfig.lite(
        input_dim=12, target_dim=8, hidden_size=16, intermediate_size=32, num_attention_heads=2
    )
    model = Wav2Sem(cfg).eval()
    _old_format_folder(tmp_path / "old", model)
    loaded = Wav2Sem.from_pretrained(tmp_path / "old")
    x = torch.randn(2, 5, 12)
    torch.testing.assert_close(loaded(x), model(x), atol=0, rtol=0)

    new = model.save_pretrained(tmp_path / "new")
    old = tmp_path / "old"
    assert (new / "config.json").read_bytes() == (old / "config.json").read_bytes()
    # the weights file: same tensors, same metadata (its JSON header's key order is not fixed)
    with safe_open(new / "model.safetensors", "pt") as a, safe_open(old / "model.safetensors", "pt") as b:
        assert a.metadata() == b.metadata() == {"format": "pt", "w2s_class": "Wav2Sem"}
        assert sorted(a.keys()) == sorted(b.keys())
        for k in a.keys():
            assert torch.equal(a.get_tensor(k), b.get_tensor(k)), k
