"""Train a host decoder on a dataset folder, with or without the plug: ``w2s decoder train``.

    record = train_decoder(DecoderRecipe("faceformer", semantic="wav2sem", wav2sem=folder), corpus_root, out)

``out/`` gets ``model/`` (``save_pretrained``: config.json + model.safetensors), ``train/`` (the
resumable checkpoint of :func:`w2s.train.fit`) and ``decoder_run.json``: the recipe, the encoder and
semantic source identities (which Wav2Sem fed it), the data, the training time and history. Running
again into the same ``out`` resumes; a finished run is loaded, not retrained; a different recipe in
the same ``out`` is an error (it would silently reuse the other run's weights).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch

from w2s.data.corpus import content_sha256
from w2s.data.faces import FaceDataset
from w2s.data.spec import BIWI, VOCASET, DatasetError, DatasetSpec, dataset_folder
from w2s.decoders.base import Decoder, DecoderError, get, load, names, train_step
from w2s.decoders.inputs import DEFAULT_TEXT_MODEL, SemanticSource, collate, load_clips
from w2s.encoders import load_encoder
from w2s.fusion import SOURCES
from w2s.nn.checkpoint import check_fields
from w2s.train import History, TrainConfig, fit
from w2s.utils.io import read_json, write_json
from w2s.utils.owned import check_owned, claim
from w2s.utils.paths import cache_dir
from w2s.utils.runtime import set_seed

RUN_FILE = "decoder_run.json"
DATASETS = {"auto": None, "vocaset": VOCASET, "biwi": BIWI}  # auto: our corpus (splits.json, corpus.json)


@dataclass(frozen=True)
class DecoderRecipe:
    host: str  # a registered decoder: voca | faceformer | codetalker | ...
    preset: str = "tiny"  # tiny (CPU default) | paper
    semantic: str = "none"  # none | wav2sem | oracle_text | oracle_word (the positive control) | oracle_text_local |
    #                         oracle_viseme (time-local: one F_s per frame, from the corpus's alignments)
    seed: int = 0
    dataset: str = "auto"  # the folder's layout and splits: auto (a corpus built by w2s) | vocaset | biwi
    encoder: str | None = None  # F_p's encoder (w2s.encoders.load_encoder name); None: the host's offline default
    wav2sem: str | None = None  # semantic="wav2sem": a trained Wav2Sem folder ("wav2sem_local": a Wav2SemLocal's)
    text_model: str = DEFAULT_TEXT_MODEL  # oracle_text's sentence model (and F_s's size for the others)
    finetune_encoder: bool = False  # the host runs `encoder` itself and trains it (CNN frozen), as the originals
    overrides: dict = field(default_factory=dict)  # config fields over the preset's, e.g. {"stage1_steps": 100}
    max_steps: int | None = None  # None: the host's recipe for the preset
    batch_size: int | None = None
    lr: float | None = None
    joint: tuple[str, ...] = ()  # further datasets trained on jointly, "FOLDER" or "FOLDER:vocaset|biwi" (UniTalker)
    val_every: int = 0  # > 0: the val split's loss every N steps and at the end, the learning curve (training unchanged)

    def __post_init__(self):
        cls = get(self.host)  # DecoderError naming the registered hosts
        object.__setattr__(self, "joint", tuple(str(j) for j in self.joint))
        cls.config_class.check(self.overrides, "--set")  # as config.json is checked: a model that trains loads
        if self.joint and not getattr(cls, "multi_dataset", False):
            multi = [n for n in names() if getattr(get(n), "multi_dataset", False)]
            raise DecoderError(f"--joint: {self.host} trains on one dataset; hosts with one head per dataset: {multi}")
        for j in self.joint:
            joint_dataset(j)  # the layout part is checked here
        if self.semantic not in SOURCES:
            raise DecoderError(f"--semantic must be one of {', '.join(SOURCES)}, got {self.semantic!r}")
        if self.semantic == "wav2sem" and not self.wav2sem:
            raise DecoderError("--semantic wav2sem needs --wav2sem FOLDER (a trained Wav2Sem: w2s wav2sem train, or notebook 02)")
        if self.semantic == "wav2sem_local" and not self.wav2sem:
            raise DecoderError("--semantic wav2sem_local needs --wav2sem FOLDER (a trained Wav2SemLocal: w2s wav2sem train-local)")
        for name in ("max_steps", "batch_size"):
            v = getattr(self, name)
            if v is not None and v < 1:
                raise DecoderError(f"--{name.replace('_', '-')} must be >= 1, got {v}")
        if self.val_every < 0:
            raise DecoderError(f"--val-every must be >= 0, got {self.val_every}")
        if self.lr is not None and not (self.lr > 0 and math.isfinite(self.lr)):
            raise DecoderError(f"--lr must be a positive number, got {self.lr}")
        if self.seed < 0:
            raise DecoderError(f"--seed must be >= 0, got {self.seed}")
        if self.dataset not in DATASETS:
            raise DecoderError(f"--dataset must be one of {sorted(DATASETS)}, got {self.dataset!r}")

    @property
    def spec(self) -> DatasetSpec | None:
        return DATASETS[self.dataset]

    @property
    def encoder_name(self) -> str:
        return self.encoder or get(self.host).offline_encoder

    def to_json(self) -> dict:
        d = {**asdict(self), "joint": list(self.joint)}
        if not self.val_every:
            del d["val_every"]  # as recipes before the field: their runs and cached grid cells stay valid
        return d

    @classmethod
    def from_json(cls, d, where: str) -> DecoderRecipe:
        """A recipe as ``to_json`` wrote it (decoder_run.json), checked field by field as a config is."""
        if not isinstance(d, dict):
            raise DecoderError(f"{where}: expected an object, got {type(d).__name__}")
        check_fields(cls, d, where, "decoder recipe", DecoderError)
        if "host" not in d:
            raise DecoderError(f"{where}: decoder recipe has no 'host'")
        try:
            return cls(**d)
        except DecoderError as e:
            raise DecoderError(f"{where}: {e}") from None


def joint_dataset(entry: str) -> tuple[Path, DatasetSpec | None]:
    """``"FOLDER"`` or ``"FOLDER:vocaset|biwi|auto"`` -> (folder, its dataset spec). A suffix that is not
    a layout is part of the folder's name, unless no such folder exists: then it is an error naming it."""
    entry = str(entry)
    folder, colon, layout = entry.rpartition(":")
    if colon and layout in DATASETS:
        return Path(folder), DATASETS[layout]
    if colon and "/" not in layout and not Path(entry).exists():
        raise DecoderError(f"--joint {entry!r}: {layout!r} is not a layout, and there is no folder {entry}; the "
                           f"layout after ':' is one of {', '.join(sorted(DATASETS))} (lower case)")  # fmt: skip
    return Path(entry), None


def check_datasets(recipe: DecoderRecipe, root) -> None:
    """Before any work: the dataset folders exist, and every --joint folder is another dataset whose
    training split its layout finds (the clips of --corpus are encoded first: minutes, on a real one)."""
    seen = {dataset_folder(root, "--corpus").resolve(): "--corpus"}
    for j in recipe.joint:
        folder, spec = joint_dataset(j)
        folder = dataset_folder(folder, f"--joint {j!r}").resolve()
        if folder in seen:
            raise DecoderError(f"--joint {j!r}: {folder} is already the {seen[folder]} dataset; --joint adds "
                               "another dataset (one output head each), not the same one twice")  # fmt: skip
        seen[folder] = f"--joint {j!r}"
        try:
            FaceDataset(folder, "train", spec=spec)  # its files, subjects and splits
        except DatasetError as e:
            raise DatasetError(f"--joint {j!r}: {e}") from None


def train_config(recipe: DecoderRecipe, n_train: int) -> TrainConfig:
    """The host's schedule for the preset (``train_recipes``), with the recipe's overrides."""
    cls = get(recipe.host)
    table = getattr(cls, "train_recipes", {}).get(recipe.preset)
    if table is None:
        raise DecoderError(f"{recipe.host} has no training recipe for preset {recipe.preset!r}")
    t = dict(table)
    batch = recipe.batch_size or int(t.get("batch_size", 8))
    steps = recipe.max_steps or int(t.get("max_steps") or math.ceil(t["epochs"] * n_train / batch))
    return TrainConfig(
        max_steps=steps, batch_size=batch, lr=recipe.lr or float(t.get("lr", 1e-3)),
        weight_decay=float(t.get("weight_decay", 0.0)), warmup_steps=min(int(t.get("warmup_steps", 0)), steps // 2),
        log_every=max(1, min(20, steps // 20)), eval_every=0, checkpoint_every=max(1, steps // 4), seed=recipe.seed,
    )  # fmt: skip


def build_model(recipe: DecoderRecipe, n_vertices: int, encoder, n_subjects: int, semantic_dim: int,
                **sizes) -> Decoder:  # fmt: skip
    """The host's preset with the data's sizes; `sizes`: further size fields (UniTalker's extra heads)."""
    cls = get(recipe.host)
    own = {"encoder": getattr(encoder, "source", None)} if recipe.finetune_encoder else {}
    if recipe.finetune_encoder and not own["encoder"]:
        raise DecoderError(f"--finetune-encoder needs a wav2vec2-style encoder (a hub name or folder), not {encoder.name!r}")
    try:
        cfg = cls.config_class.preset(recipe.preset, n_vertices=n_vertices, audio_dim=encoder.dim, n_subjects=n_subjects,
                                      semantic_source=recipe.semantic, semantic_dim=semantic_dim, **own, **sizes,
                                      **recipe.overrides)  # fmt: skip
    except (KeyError, NotImplementedError) as e:
        raise DecoderError(f"{recipe.host}: unknown preset {recipe.preset!r} ({e})") from e
    except TypeError as e:  # an override that is not a config field
        raise DecoderError(f"{recipe.host}: --set: {e}") from e
    set_seed(recipe.seed)
    return cls(cfg)


def semantic_source(recipe: DecoderRecipe, corpus_root) -> tuple[SemanticSource, int]:
    """F_s's source and size. Without the plug F_s's size still sets W_s's draw (same init as the plugged run)."""
    sem = SemanticSource.from_name(recipe.semantic, corpus_root, recipe.wav2sem, recipe.text_model)
    dim = sem.dim or SemanticSource.from_name("oracle_text", text_model=recipe.text_model).dim
    return sem, dim


def fit_plug(model: Decoder, clips: list) -> dict:
    """With ``plug_scale="standardize"``: the plug's F_s statistics from the training clips (F_s's mean, and
    the gain to F_p's per-element RMS), before training: over the clips' vectors, or, for a time-local source,
    over every training frame's (pauses included). Returns ``{"plug": stats}`` for the run record, or {}."""
    if not model.fusion.standardizes:
        return {}
    if any(c.features is None for c in clips):
        raise DecoderError(f"{model.name}: plug_scale=standardize scales F_s to the frozen encoder's F_p; a host that "
                           "runs its own encoder (--finetune-encoder) has none before training")  # fmt: skip
    sq = sum(float(c.features.double().pow(2).sum()) for c in clips)
    n = sum(c.features.numel() for c in clips)
    rows = torch.cat([c.F_s.reshape(-1, c.F_s.shape[-1]) for c in clips])  # (N clips, C_s) | (N frames, C_s)
    return {"plug": model.fusion.fit_standardization(rows, math.sqrt(sq / n))}


class OtherRunError(DecoderError):
    """`out` holds a decoder trained with another recipe or data: training into it would reuse its weights."""


def _check_out(out: Path, recipe: DecoderRecipe, data: dict) -> None:
    run = out / RUN_FILE
    if not run.is_file():
        return
    old = read_json(run, "decoder run record")
    if old.get("recipe") != recipe.to_json() or old.get("data") != data:
        raise OtherRunError(f"{out} holds a decoder trained with another recipe or data ({run}); "
                           "choose another --out or delete it")  # fmt: skip


def train_decoder(recipe: DecoderRecipe, root, out, on_log=None) -> dict:
    """Train (or resume, or load when finished) one decoder; returns the run record (``decoder_run.json``).

    With ``recipe.joint`` (UniTalker), the further datasets are read with the same encoder and F_s source,
    each batch comes from one dataset, a smaller dataset's clips are repeated to about the largest's
    count (UniTalker's ``duplicate_list``), and the host recipe's ``max_steps`` is per dataset."""
    root, out, spec = Path(root), Path(out), recipe.spec
    t0 = time.perf_counter()
    check_datasets(recipe, root)
    check_owned(out, "decoder")  # nothing of the user's under the names a run writes, before any work
    encoder = load_encoder(recipe.encoder_name, corpus=root)
    sem, semantic_dim = semantic_source(recipe, root)
    extra = [joint_dataset(j) for j in recipe.joint]
    data = {"root": str(root.resolve()), "content_sha256": _content(root), "encoder": encoder.identity,
            "semantic": sem.identity}  # fmt: skip
    if extra:
        data["joint"] = [{"root": str(r.resolve()), "content_sha256": _content(r)} for r, _ in extra]
    _check_out(out, recipe, data)
    if (out / RUN_FILE).is_file() and read_json(out / RUN_FILE, "decoder run record").get("finished"):
        return read_json(out / RUN_FILE, "decoder run record")
    enc = None if recipe.finetune_encoder else encoder
    per_dataset = [load_clips(root, "train", enc, sem, spec)]
    per_dataset += [load_clips(r, "train", enc, sem, sp, dataset=k) for k, (r, sp) in enumerate(extra, 1)]
    t_inputs = time.perf_counter() - t0
    subjects = [len({c.subject for c in cl if c.subject_index >= 0}) for cl in per_dataset]
    sizes = {"extra_vertices": tuple(cl[0].vertices.shape[1] for cl in per_dataset[1:]),
             "extra_subjects": tuple(subjects[1:])} if extra else {}  # fmt: skip
    clips = per_dataset[0]
    model = build_model(recipe, clips[0].vertices.shape[1], encoder, subjects[0], semantic_dim, **sizes)
    plug = fit_plug(model, [c for cl in per_dataset for c in cl])
    claim(out, "decoder")  # the folder's manifest lists what the run writes, before it writes it
    record = {"recipe": recipe.to_json(), "data": data, "finished": False}
    write_json(out / RUN_FILE, record)

    t1 = time.perf_counter()
    every = [c for cl in per_dataset for c in cl]
    offsets = [c.vertices - c.template for c in every]
    kw = {"dataset_index": [c.dataset for c in every]} if extra else {}
    prep = model.prepare(offsets, seed=recipe.seed, cache_dir=cache_dir("decoders"), **kw)
    t_prepare = time.perf_counter() - t1
    largest = max(len(cl) for cl in per_dataset)
    repeats = [max(1, round(largest / len(cl))) for cl in per_dataset]
    train_set = [c for cl, r in zip(per_dataset, repeats) for _ in range(r) for c in cl]
    cfg = train_config(recipe, len(train_set))
    if extra and recipe.max_steps is None and "max_steps" in get(recipe.host).train_recipes.get(recipe.preset, {}):
        cfg = replace(cfg, max_steps=cfg.max_steps * len(per_dataset))  # the same batches per dataset as alone
    groups = [c.dataset for c in train_set] if extra else None
    eval_fn = None
    if recipe.val_every:
        cfg = replace(cfg, eval_every=recipe.val_every)
        eval_fn = val_loss(load_clips(root, "val", enc, sem, spec), cfg.batch_size)
    hist: History = fit(model, train_set, collate, train_step, cfg, out_dir=out / "train", on_log=on_log, groups=groups,
                        recipe={"decoder": recipe.to_json(), "data": data}, eval_fn=eval_fn)  # fmt: skip
    model.save_pretrained(out / "model")
    record.update(finished=True, config=model.config.to_dict(), train=asdict(cfg), prepare=prep, **plug,
                  n_parameters=sum(p.numel() for p in model.parameters()),
                  n_trainable=sum(p.numel() for p in model.parameters() if p.requires_grad),
                  seconds={"inputs": round(t_inputs, 2), "prepare": round(t_prepare, 2), "train": round(hist.seconds, 2),
                           "total": round(time.perf_counter() - t0, 2)},
                  history=hist.to_json())  # fmt: skip
    if extra:
        record["joint"] = {"clips": [len(cl) for cl in per_dataset], "repeats": repeats}
    write_json(out / RUN_FILE, record)
    return read_json(out / RUN_FILE, "decoder run record")  # as a later load sees it (lists, not tuples)


def val_loss(clips: list, batch_size: int) -> Callable[[Decoder], dict]:
    """``eval_fn`` for the learning curve: the host's own training loss on the val clips (in identity 0's
    style: val speakers are unseen), mean over clips. The trainer runs it without gradients and with the
    training's random state set aside, so a run with a curve trains exactly as one without."""
    if not clips:
        raise DecoderError("--val-every: the dataset has no val clips")

    def evaluate(model: Decoder) -> dict:
        total = 0.0
        for i in range(0, len(clips), batch_size):
            part = clips[i : i + batch_size]
            loss, _ = model(collate(part, subject_index=0).to(next(model.parameters()).device))
            total += float(loss) * len(part)
        return {"val_loss": total / len(clips)}

    return evaluate


def _content(root: Path) -> str | None:
    """Our corpus's content hash, of its files as they are (corpus.json's, verified), None for other datasets."""
    return content_sha256(root) if (root / "corpus.json").is_file() else None


def load_run(folder) -> tuple[Decoder, dict]:
    """A trained decoder and its run record, from ``train_decoder``'s `out` folder (or its ``model/``)."""
    folder = Path(folder)
    if not (folder / RUN_FILE).is_file() and (folder.parent / RUN_FILE).is_file():
        folder = folder.parent
    if not (folder / RUN_FILE).is_file():
        raise DecoderError(f"{folder}: no {RUN_FILE}; give the --out folder of `w2s decoder train`")
    path = folder / RUN_FILE
    record = read_json(path, "decoder run record", required_keys={"recipe": dict, "data": dict})
    if not record.get("finished"):
        raise DecoderError(f"{folder}: training did not finish; run `w2s decoder train` again with this --out to resume")
    recipe_of(record, f"{path}: recipe")  # its fields and types, as --set and config.json are checked
    if not isinstance(record["data"].get("root"), str):
        raise DecoderError(f"{path}: data has no 'root' (the dataset folder it was trained on)")
    return load(folder / "model"), record


def recipe_of(record: dict, where: str = "the run record's recipe") -> DecoderRecipe:
    return DecoderRecipe.from_json(record.get("recipe"), where)


def dataset_of(record: dict, root) -> tuple[int, DatasetSpec | None]:
    """Which of a run's datasets `root` is (its head, for a multi-dataset host) and its spec: 0 for the
    training folder and any other folder, k for the k-th ``--joint`` folder."""
    recipe, here = recipe_of(record), str(Path(root).resolve())
    for k, j in enumerate(record["data"].get("joint", []), 1):
        if j["root"] == here:
            return k, joint_dataset(recipe.joint[k - 1])[1]
    return 0, recipe.spec
