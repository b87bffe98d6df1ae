"""One save/load for every model: its dataclass config in ``config.json``, its weights in ``model.safetensors``.

    @dataclass(frozen=True)
    class MyConfig(Config):
        width: int = 64

    class MyModel(nn.Module, CheckpointMixin):
        config_class = MyConfig

    model.save_pretrained("runs/my")                 # complete or untouched (temp folder, then rename)
    MyModel.from_pretrained("runs/my")               # or a hub name (offline: from the local HF cache)

Like huggingface_hub's ``PyTorchModelHubMixin``, written here so that the folder says which w2s class
and which format wrote it, and a config field this version does not know is an error instead of
being dropped. ``config.json``::

    {"w2s_class": "Wav2Sem", "format_version": 1, "w2s_version": "0.1.0", "config": {...}}

Every error names the file and the problem; it is raised as the model's ``error_class`` (Wav2Sem:
``Wav2SemError``), a ValueError.
"""

from __future__ import annotations

import json
import types
import typing
from dataclasses import asdict, fields
from pathlib import Path
from typing import ClassVar

from w2s import __version__
from w2s.utils.io import JSONFileError, building_dir, read_json

FORMAT_VERSION = 1  # of the saved folder (config.json + model.safetensors)
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


class CheckpointError(ValueError):
    """A config or checkpoint folder that cannot be used; the message names the file and the problem."""


# ---------------------------------------------------------------------------------------------
# configs


class Config:
    """Base of the typed model configs (frozen dataclasses, nanoGPT's GPTConfig): presets, JSON round trip.

    Presets are classmethods named in ``presets`` (``paper``: the original's hyper-parameters,
    ``tiny``: the CPU default); :meth:`preset` picks one by name.
    """

    error_class: ClassVar[type[Exception]] = CheckpointError
    presets: ClassVar[tuple[str, ...]] = ()
    # fields a saved config must give (the data's sizes: their defaults would describe another dataset);
    # a field added by a later version may be missing from an older config.json and takes its default
    required: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def label(cls) -> str:
        return cls.__name__.removesuffix("Config")  # Wav2SemConfig -> "Wav2Sem"

    @classmethod
    def preset(cls, name: str, where: str = "preset overrides", **overrides) -> Config:
        """The preset `name` with `overrides` (checked as :meth:`check` checks a saved config's fields)."""
        if name not in cls.presets:
            raise cls.error_class(f"unknown {cls.label()} preset {name!r}; choose one of {list(cls.presets)}")
        cls.check(overrides, where)
        return getattr(cls, name)(**overrides)

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def check(cls, values: dict, where: str, hint: str = "") -> None:
        """The one typed check of config fields, wherever they come from (config.json, ``--set``, a run
        record): each is a field of this config and its value fits the field's type. `error_class` naming
        `where` (the file or the option), the field and the value."""
        check_fields(cls, values, where, f"{cls.label()} config", cls.error_class, hint)

    @classmethod
    def from_dict(cls, d: dict, where: str = "config") -> Config:
        """A config as saved (``to_dict``): :meth:`check`, and the `required` fields present."""
        cls.check(d, where, hint=" (written by another w2s version?)")
        missing = [k for k in cls.required if k not in d]
        if missing:
            raise cls.error_class(f"{where}: {cls.label()} config has no {', '.join(map(repr, missing))} (a saved "
                                  "config always gives the data's sizes; was the file edited?)")  # fmt: skip
        return cls(**d)


def check_fields(cls, values: dict, where: str, label: str, error: type[Exception], hint: str = "") -> None:
    """Every key of `values` is a field of dataclass `cls`, and its value fits the field's annotation
    (:func:`_fits`); else `error` naming `where`, `label` (what holds the fields) and the field."""
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - known, key=str)
    if unknown:
        raise error(f"{where}: unknown {label} fields {unknown}{hint}; known fields: {sorted(known)}")
    hints = typing.get_type_hints(cls)
    for k, v in values.items():
        if not _fits(v, hints.get(k, typing.Any)):
            raise error(f"{where}: {label} field {k!r} must be {_hint_name(hints[k])}, got "
                        f"{json.dumps(v, default=repr)[:80]}")  # fmt: skip


_JSON_OF = {int: "an integer", float: "a number", str: "a string", bool: "true or false", type(None): "null"}


def _hint_name(hint) -> str:
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (tuple, list):
        return "a list"
    if args:
        return " or ".join(_hint_name(a) for a in args if a is not Ellipsis)
    return _JSON_OF.get(hint, getattr(hint, "__name__", str(hint)))


def _fits(value, hint) -> bool:
    """Does a JSON value fit a config field's annotation (int, float, str, bool, None, tuples, unions)?"""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is typing.Any or isinstance(hint, typing.TypeVar):
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, a) for a in args)
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            return False
        if Ellipsis in args or len(args) <= 1:  # tuple[int, ...], list[int]
            return not args or all(_fits(v, args[0]) for v in value)
        return len(value) == len(args) and all(_fits(v, a) for v, a in zip(value, args))
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is type(None) or hint is None:
        return value is None
    if isinstance(hint, type):
        return isinstance(value, hint)
    return True  # annotations this check does not model (Literal, dict, ...) are left to the config


# ---------------------------------------------------------------------------------------------
# folders: local or on the hub


def local_folder(name, what: str = "folder", error: type[Exception] = CheckpointError) -> Path | None:
    """The folder `name` points to; None when `name` reads as a hub repo id ("owner/name", "name").

    Raises `error` for a file, or for a path (absolute, relative with ``./``, ``~``, or two ``/``) that
    does not exist. The one path-or-hub-name check of w2s (checkpoints, text models).
    """
    p = Path(name).expanduser()
    if p.exists():
        if not p.is_dir():
            raise error(f"{str(name)!r} is a file, not a {what}")
        return p
    s = str(name)
    if s.startswith((".", "/", "~")) or "\\" in s or s.count("/") > 1:
        raise error(f"{what} {s!r} does not exist")
    return None


def resolve(name_or_folder, what: str = "checkpoint folder", error: type[Exception] = CheckpointError,
            files: tuple[str, ...] = (CONFIG_NAME, WEIGHTS_NAME)) -> Path:  # fmt: skip
    """A local folder as is; otherwise a hub repo id, through ``snapshot_download`` (its `files` only)."""
    folder = local_folder(name_or_folder, what, error)
    if folder is not None:
        return folder
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    name = str(name_or_folder)
    try:
        return Path(snapshot_download(repo_id=name, allow_patterns=list(files)))
    except LocalEntryNotFoundError as e:
        why = (
            "offline (HF_HUB_OFFLINE=1): nothing is downloaded"
            if constants.HF_HUB_OFFLINE
            else "the hub cannot be reached"
        )
        raise error(
            f"{name!r} is not a local folder, and its files are not in the local Hugging Face cache; {why}. "
            "Download it once while online, or pass the folder written by save_pretrained."
        ) from e
    except Exception as e:  # no such repo, invalid name, HTTP errors: one clear message
        raise error(
            f"{name!r} is not a local folder, and getting it from the Hugging Face hub failed: {type(e).__name__}: {e}"
        ) from e


def read_meta(folder: Path, error: type[Exception] = CheckpointError) -> dict:
    """``folder/config.json`` as a dict; `error` when it is missing or not a JSON object."""
    path = Path(folder) / CONFIG_NAME
    if not path.is_file():
        raise error(f"{folder} is not a w2s checkpoint: no {CONFIG_NAME}")
    try:
        return read_json(path, "checkpoint config", kind=dict)
    except JSONFileError as e:
        raise error(f"{path}: unreadable JSON ({e.reason})") from None


def _marker_of(folder: Path) -> str | None:
    try:
        return read_meta(folder).get("w2s_class")
    except CheckpointError:
        return None


# ---------------------------------------------------------------------------------------------
# the mixin


class CheckpointMixin:
    """``save_pretrained`` / ``from_pretrained`` for an ``nn.Module`` whose ``self.config`` is a :class:`Config`.

    Class attributes: ``config_class`` (required), ``checkpoint_name`` (config.json's "w2s_class";
    default: the class name), ``format_version``, ``error_class``, ``foreign_hint`` (what to say
    when the folder holds a transformers model). Hooks: :meth:`from_config` (build an empty model)
    and :meth:`checkpoint_state` (what is saved).
    """

    config_class: ClassVar[type[Config]]
    checkpoint_name: ClassVar[str | None] = None
    format_version: ClassVar[int] = FORMAT_VERSION
    error_class: ClassVar[type[Exception]] = CheckpointError
    foreign_hint: ClassVar[str] = ""

    @classmethod
    def marker(cls) -> str:
        return cls.checkpoint_name or cls.__name__

    @classmethod
    def from_config(cls, config: Config):
        """A model with random weights (loaded right after): the hook for models whose __init__ loads more."""
        return cls(config)

    def checkpoint_state(self) -> dict:
        return self.state_dict()

    def save_pretrained(self, folder) -> Path:
        """``folder/config.json`` + ``folder/model.safetensors``, written into a temp folder and
        renamed: the folder is complete or untouched. A checkpoint of the same class is replaced."""
        from safetensors.torch import save_file

        folder, marker = Path(folder), self.marker()
        if (
            folder.exists()
            and _marker_of(folder) != marker
            and (not folder.is_dir() or any(folder.iterdir()))
        ):
            raise self.error_class(
                f"save_pretrained: {folder} exists and is not a {marker} checkpoint; not overwriting it"
            )
        folder.parent.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().contiguous() for k, v in self.checkpoint_state().items()}
        meta = {"w2s_class": marker, "format_version": self.format_version, "w2s_version": __version__,
                "config": self.config.to_dict()}  # fmt: skip
        with building_dir(folder) as tmp:
            save_file(state, str(tmp / WEIGHTS_NAME), metadata={"format": "pt", "w2s_class": marker})
            (tmp / CONFIG_NAME).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        return folder

    @classmethod
    def from_pretrained(cls, name_or_folder, map_location=None):
        """A model saved by :meth:`save_pretrained`: a folder, or a hub name (``snapshot_download``;
        offline, the files must be in the local HF cache). Returned in eval mode."""
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        err, marker = cls.error_class, cls.marker()
        folder = resolve(name_or_folder, f"{marker} checkpoint folder", err)
        config = cls._read_config(folder)
        w_path = folder / WEIGHTS_NAME
        if not w_path.is_file():
            raise err(f"{folder} is not a complete {marker} checkpoint: no {WEIGHTS_NAME}")
        try:
            state = load_file(str(w_path), device="cpu")
        except (SafetensorError, OSError) as e:
            raise err(f"{w_path}: unreadable safetensors file ({e})") from e
        model = cls.from_config(config)
        _check_fits(model.checkpoint_state(), state, w_path, err)
        model.load_state_dict(state, strict=False)  # strict on checkpoint_state's keys (checked above)
        if map_location is not None:
            model.to(map_location)
        return model.eval()

    @classmethod
    def _read_config(cls, folder: Path) -> Config:
        """The config in ``folder/config.json``, after checking the class marker and the format version."""
        err, marker, path = cls.error_class, cls.marker(), folder / CONFIG_NAME
        if not path.is_file():
            raise err(f"{folder} is not a {marker} checkpoint: no {CONFIG_NAME}")
        meta = read_meta(folder, err)
        if meta.get("w2s_class") != marker:
            what = cls._what_it_is(meta)
            raise err(
                f'{folder} is not a {marker} checkpoint: {CONFIG_NAME} has no "w2s_class": "{marker}"{what}'
            )
        if meta.get("format_version") != cls.format_version:
            raise err(
                f"{path}: format_version {meta.get('format_version')!r}, this w2s reads {cls.format_version}"
            )
        if not isinstance(meta.get("config"), dict):
            raise err(f'{path}: no "config" object')
        try:
            return cls.config_class.from_dict(meta["config"], where=str(path))
        except TypeError as e:
            raise err(f"{path}: bad config ({e})") from e

    @classmethod
    def _what_it_is(cls, meta: dict) -> str:
        if "w2s_class" in meta:
            return f" (it is a {meta['w2s_class']!r} checkpoint)"
        if "model_type" in meta:
            return f" (it is a transformers {meta['model_type']!r} model{cls.foreign_hint})"
        return ""


def _check_fits(expected: dict, state: dict, w_path: Path, err: type[Exception]) -> None:
    """Same tensor names and shapes as the model built from the config; `err` naming the first misfits."""
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        raise err(
            f"{w_path} does not fit its config: missing tensors {_first(missing)}, "
            f"unexpected tensors {_first(unexpected)}"
        )
    for k, t in expected.items():
        if tuple(state[k].shape) != tuple(t.shape):
            raise err(
                f"{w_path}: tensor {k!r} has shape {tuple(state[k].shape)} in the checkpoint, "
                f"but the config gives {tuple(t.shape)}"
            )


def _first(names: list[str], n: int = 5) -> str:
    return f"{names[:n]}{' ...' if len(names) > n else ''}"
