"""Any wav -> a talking head: ``w2s animate IN.wav --host H --out OUT.mp4``.

    result = animate("me.wav", "faceformer", "me.mp4", semantic="wav2sem", npy=True, meshes="ply")

The input is read at any sample rate and channel count (:func:`w2s.data.audio.read_samples`, then
:func:`~w2s.data.audio.to_mono` resamples it to the models' 16 kHz mono with soxr); the mp4 carries the
original audio. A trained decoder run
folder (``w2s decoder train --out DIR``) gives the host, its F_p encoder and its F_s source (the
Wav2Sem it was trained with, or the text model for ``oracle_text``, which needs ``text``); without
``model`` the newest finished run of that host and semantic source under ``data/models/`` is used
(seed 0 first), and when there is none the error names the command that trains one.

Long inputs are generated in windows of ``chunk_s`` seconds overlapping by ``overlap_s``, blended
linearly across each overlap. Every host takes any length (no 600-frame cap; 3,000 frames of the tiny
FaceFormer take seconds), but the hosts learned from sentences of a few seconds and Wav2Sem's F_s is
one vector per *sentence*: a window per few seconds gives each stretch of speech its own F_s, keeps
autoregressive drift short, and drives the progress bar. ``chunk_s=0`` generates in one pass. A
time-local source (one F_s per frame) is computed once for the whole input and each window reads its
frames' slice. The time-local oracles (``oracle_text_local``, ``oracle_viseme``) read a corpus's word or
phoneme alignments, which a wav does not have: animate refuses their decoders, as it refuses the
``oracle_word`` control.

Outputs appear only when everything succeeded: the mp4 (H.264 + AAC, :func:`w2s.viz.render.render_video`),
with ``npy`` the vertices (T, V, 3) float32 beside it (``OUT.npy``), with ``meshes`` one OBJ or PLY per
frame in ``OUT_obj/`` or ``OUT_ply/`` (:func:`w2s.viz.mesh_io.export_mesh`, vertex order kept). Nothing
of the user's is replaced: an ``OUT_obj`` that is a file, a link, or a folder holding anything but an
earlier animate's frames is refused before any work. A full disk is one error naming the file.
"""

from __future__ import annotations

import json
import math
import re
import time
import warnings
from contextlib import ExitStack
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

from w2s import decoders
from w2s.corpus.face import n_frames_for
from w2s.data.audio import SAMPLE_RATE, read_samples, to_mono
from w2s.data.files import load_faces, load_templates
from w2s.data.spec import read_json, spec_from_folder
from w2s.decoders.inputs import Clip
from w2s.decoders.training import RUN_FILE, dataset_of, recipe_of
from w2s.encoders import align_to_fps
from w2s.evaluation.decoders import generate_clips, load_trained
from w2s.utils.io import OutputError, atomic_path, building_dir, check_writable
from w2s.utils.paths import data_dir
from w2s.utils.runtime import progress
from w2s.viz.mesh_io import export_mesh
from w2s.viz.render import render_video

SEMANTICS = ("none", "wav2sem", "oracle_text")
# sources that read a corpus's alignments, not the audio: what each needs, for the refusal
ALIGNED = {"oracle_word": "the corpus's pair word", "oracle_text_local": "the corpus's word alignments",
           "oracle_viseme": "the corpus's phoneme alignments"}  # fmt: skip
MESH_FORMATS = ("obj", "ply")
_MESH_FILE = re.compile(r"frame_[0-9]+\.(obj|ply)")  # what animate writes into OUT_obj/ or OUT_ply/
CHUNK_S = 8.0  # seconds per generation window (0: one pass)
OVERLAP_S = 1.0  # seconds two windows share, blended linearly
# --size's cap: the numpy rasteriser needs about 330 bytes and 1.2 us per pixel of each frame, so 2048x2048
# already takes 1.3 GB and 5 s a frame (1080p fits). A larger size is a typo, refused before any model
# loads rather than met as a many-GB allocation after generation.
MAX_SIDE = 2048


class AnimateError(ValueError):
    """A bad request to ``w2s animate``; the message names the option or file and the problem."""


# ---------------------------------------------------------------------------------------------
# which decoder


def models_dir() -> Path:
    """Where trained models live (``data/models/``, or ``$W2S_DATA_DIR/models``)."""
    return data_dir() / "models"


def find_model(host: str, semantic: str, root=None) -> Path | None:
    """The finished decoder run of `host` with `semantic` under `root` (default :func:`models_dir`): seed 0
    first, then the most training steps (a full run before a quick one), then the newest; None when there is none."""
    found = []
    for run in sorted(Path(root or models_dir()).rglob(RUN_FILE)):
        try:
            rec = json.loads(run.read_text(encoding="utf-8"))
            recipe = rec["recipe"]
        except (OSError, ValueError, KeyError, TypeError):
            continue  # not a readable run record: not a candidate
        if rec.get("finished") and recipe.get("host") == host and recipe.get("semantic") == semantic:
            steps = (rec.get("train") or {}).get("max_steps") or 0
            found.append((recipe.get("seed") != 0, -steps, -run.stat().st_mtime, run.parent))
    return min(found)[-1] if found else None


def train_command(host: str, semantic: str) -> str:
    """The command that trains the decoder :func:`find_model` looks for."""
    corpus = data_dir() / "corpus" / "synthtalk-default-seed0"
    out = models_dir() / "decoders" / f"{host}-{semantic}-seed0"
    return f"w2s decoder train --host {host} --semantic {semantic} --corpus {corpus} --out {out}"  # wav2sem: its lite


def resolve_model(host: str, semantic: str | None, model=None) -> Path:
    """The run folder to use: `model` (checked to hold a `host` decoder), else :func:`find_model`'s."""
    if host not in decoders.names():
        raise AnimateError(f"--host: unknown host {host!r}; choose one of {', '.join(decoders.names())}")
    if semantic in ALIGNED:
        raise AnimateError(f"--semantic {semantic} reads {ALIGNED[semantic]} (alignments.json), which a wav does not "
                           "have; animate a none, wav2sem or oracle_text decoder")  # fmt: skip
    if semantic is not None and semantic not in SEMANTICS:
        raise AnimateError(f"--semantic must be one of {', '.join(SEMANTICS)}, got {semantic!r}")
    if model is not None:
        return Path(model)
    for sem in (semantic,) if semantic else ("wav2sem", "none"):
        found = find_model(host, sem)
        if found is not None:
            return found
    sem = semantic or "wav2sem"
    raise AnimateError(f"no trained {host} decoder (semantic {sem}) under {models_dir()}; train one with "
                       f"`{train_command(host, sem)}` or pass --model DIR")  # fmt: skip


# ---------------------------------------------------------------------------------------------
# inputs and outputs


def _read_audio(path) -> tuple[np.ndarray, np.ndarray, int, list[str]]:
    """(16 kHz mono for the model, the file's own samples (N, C) for the mp4, its rate, notes)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        original, sr = read_samples(path)  # AudioError: missing, not audio, empty, NaN
        audio = to_mono(original, sr, SAMPLE_RATE, str(path))
    return audio, original, sr, [str(w.message) for w in caught]


def output_paths(out, npy: bool = False, meshes: str | None = None) -> dict[str, Path]:
    """{"video", "npy"?, "meshes"?}: OUT.mp4, OUT.npy, OUT_obj/ (or OUT_ply/), checked writable."""
    out = Path(out)
    if out.suffix.lower() != ".mp4":
        raise AnimateError(f"--out {out} must end in .mp4")
    if meshes is not None and meshes not in MESH_FORMATS:
        raise AnimateError(f"mesh format must be one of {MESH_FORMATS}, got {meshes!r}")
    paths = {"video": out}
    if npy:
        paths["npy"] = out.with_suffix(".npy")
    if meshes:
        paths["meshes"] = out.with_name(f"{out.stem}_{meshes}")
    for key, p in paths.items():
        check_writable(p, folder=key == "meshes")
    if meshes:
        _check_mesh_folder(paths["meshes"])
    return paths


def _check_mesh_folder(folder: Path) -> None:
    """OUT_obj/ is replaced only when it is a folder of frames an earlier animate wrote (or absent): never a
    link (check_writable refused a file), nor a folder holding anything else, which would be the user's."""
    if folder.is_symlink():
        raise OutputError(f"cannot write {folder}: it is a link, not a folder w2s wrote; move it or choose "
                          "another --out")  # fmt: skip
    if not folder.is_dir():
        return
    foreign = sorted(p.name for p in folder.iterdir() if not (_MESH_FILE.fullmatch(p.name) and p.is_file()))
    if foreign:
        raise OutputError(f"cannot write {folder}: it holds files w2s did not write ({', '.join(foreign[:3])}"
                          f"{', ...' if len(foreign) > 3 else ''}); move them or choose another --out")  # fmt: skip


def parse_size(text: str) -> tuple[int, int]:
    """``"384x384"`` -> (384, 384): the video's width and height, even numbers from 16 (H.264 yuv420p)
    to :data:`MAX_SIDE`."""
    m = re.fullmatch(r"\s*([0-9]+)\s*x\s*([0-9]+)\s*", str(text).lower())  # ASCII digits: not "²"
    if not m:
        raise AnimateError(f"--size must look like WIDTHxHEIGHT (e.g. 384x384), got {text!r}")
    size = (int(m[1]), int(m[2]))
    if min(size) < 16 or size[0] % 2 or size[1] % 2:
        raise AnimateError(f"--size: width and height must be even numbers >= 16, got {text!r}")
    if max(size) > MAX_SIDE:
        raise AnimateError(f"--size: width and height must be at most {MAX_SIDE} pixels, got {text!r}")
    return size


def windows(n_frames: int, chunk: int, overlap: int) -> list[tuple[int, int]]:
    """[start, end) frame windows of `chunk` frames covering `n_frames`, consecutive ones sharing at least
    `overlap` frames (the last one ends at `n_frames`); one window when `chunk` is 0 or covers everything."""
    if chunk <= 0 or n_frames <= chunk:
        return [(0, n_frames)]
    if not 0 <= overlap < chunk:
        raise AnimateError(f"the overlap ({overlap} frames) must be shorter than a window ({chunk} frames)")
    starts = list(range(0, n_frames - chunk, chunk - overlap)) + [n_frames - chunk]
    return [(s, s + chunk) for s in starts]


def blend_weights(win: list[tuple[int, int]], n_frames: int) -> list[np.ndarray]:
    """Per window, (len,) weights rising linearly over its overlap with the previous window and falling
    over its overlap with the next; with the other windows' they sum to 1 at every frame."""
    out = []
    for k, (s, e) in enumerate(win):
        t = np.arange(s, e) + 0.5
        w = np.ones(e - s)
        if k > 0 and win[k - 1][1] > s:  # rise across [s, end of the previous window)
            w = np.minimum(w, (t - s) / (win[k - 1][1] - s))
        if k + 1 < len(win) and win[k + 1][0] < e:  # fall across [start of the next window, e)
            w = np.minimum(w, (e - t) / (e - win[k + 1][0]))
        out.append(w)
    total = np.zeros(n_frames)
    for (s, e), w in zip(win, out, strict=True):
        total[s:e] += w
    return [w / total[s:e] for (s, e), w in zip(win, out, strict=True)]


# ---------------------------------------------------------------------------------------------
# the command


def animate(wav, host: str, out, semantic: str | None = None, model=None, subject: str | None = None,
            npy: bool = False, meshes: str | None = None, text: str | None = None, chunk_s: float = CHUNK_S,
            overlap_s: float = OVERLAP_S, size: tuple[int, int] = (384, 384), on_note=None) -> dict:  # fmt: skip
    """Animate `wav` with a trained `host` decoder into `out` (an .mp4); see the module docstring.

    subject: a training subject's name or index (its speaking style and face), or another subject of the
    training dataset's templates (its face, no style: an unseen speaker); default the first training
    subject. text: the transcript, for an ``oracle_text`` decoder. on_note(str): told what was converted.
    Returns what was written, the sizes, and the seconds each stage took."""
    t0 = time.perf_counter()
    paths = output_paths(out, npy, meshes)
    size = parse_size("x".join(map(str, size)))
    folder = resolve_model(host, semantic, model)
    if not (chunk_s >= 0 and overlap_s >= 0 and math.isfinite(chunk_s) and math.isfinite(overlap_s)):
        raise AnimateError(f"--chunk and --overlap must be seconds >= 0, got {chunk_s} and {overlap_s}")
    if chunk_s > 0 and overlap_s >= chunk_s:
        raise AnimateError(f"--overlap ({overlap_s} s) must be shorter than --chunk ({chunk_s} s)")
    _check_run(folder, host, semantic, text)
    audio, original, sr, notes = _read_audio(wav)  # before any model loads: a bad file fails fast
    net, record, encoder, sem = load_trained(folder)
    recipe = recipe_of(record)
    root = Path(record["data"]["root"])
    k_data, spec = dataset_of(record, root)
    spec = spec or spec_from_folder(root)
    templates = load_templates(root / "templates.pkl")
    train = spec.train_subjects
    name, index = _subject(subject, train, templates)
    template = torch.from_numpy(np.ascontiguousarray(templates[name], dtype=np.float32))
    n_vertices = net.config.n_vertices if k_data == 0 else net.config.extra_vertices[k_data - 1]
    if template.shape[0] != n_vertices:
        raise AnimateError(f"{root / 'templates.pkl'}: {name}'s template has {template.shape[0]} vertices, "
                           f"the decoder makes {n_vertices}")  # fmt: skip
    faces = load_faces(root / "faces.npy", n_vertices) if (root / "faces.npy").is_file() else None
    if faces is None:
        raise AnimateError(f"{root} has no faces.npy: the triangles to render {name}'s mesh with")
    for n in notes if on_note else ():
        on_note(n)

    fps = float(spec.fps)
    n_frames = n_frames_for(len(audio) / SAMPLE_RATE, fps)
    per_frame = SAMPLE_RATE / fps
    padded = np.concatenate([audio, np.zeros(max(0, round(n_frames * per_frame) - len(audio)), np.float32)])
    win = windows(n_frames, _frames(chunk_s, fps, n_frames), _frames(overlap_s, fps, n_frames))
    weights = blend_weights(win, n_frames)
    stochastic = bool(getattr(net, "stochastic", False))
    kwargs = {"seed": 0} if stochastic else {}
    verts = np.zeros((n_frames, n_vertices, 3), np.float32)
    t1 = time.perf_counter()
    # a time-local F_s: once, for the whole input; each window gets its frames' slice
    stream = _F_s(sem, padded, n_frames, fps, text) if getattr(sem, "per_frame", False) else None
    for (s, e), w in progress(list(zip(win, weights, strict=True)), desc="animate", unit="window"):
        piece = padded[round(s * per_frame) : round(e * per_frame)]
        clip = _clip(piece, e - s, fps, encoder, sem, text, recipe.finetune_encoder, name, index, template, k_data,
                     None if stream is None else stream[s:e])  # fmt: skip
        verts[s:e] += w[:, None, None].astype(np.float32) * generate_clips(net, [clip], None, 1, **kwargs)[0]
    t_generate = time.perf_counter() - t1

    t2 = time.perf_counter()
    with ExitStack() as stack:
        video = stack.enter_context(atomic_path(paths["video"]))
        npy_tmp = stack.enter_context(atomic_path(paths["npy"])) if npy else None
        mesh_tmp = stack.enter_context(building_dir(paths["meshes"])) if meshes else None
        render_video(video, verts, faces, fps, audio=original, sr=sr, size=size, desc="render")
        t_render = time.perf_counter() - t2
        if npy_tmp is not None:
            _save_npy(npy_tmp, verts)
        if mesh_tmp is not None:
            digits = len(str(n_frames - 1))
            for t in progress(range(n_frames), desc=f"{meshes} files", unit="frame"):
                export_mesh(mesh_tmp / f"frame_{t:0{digits}d}.{meshes}", verts[t], faces)
    return {"paths": {k: str(v) for k, v in paths.items()}, "model": str(folder), "host": host,
            "semantic": recipe.semantic, "subject": name, "subject_index": index, "fps": fps, "n_frames": n_frames,
            "n_vertices": n_vertices, "audio_seconds": len(audio) / SAMPLE_RATE, "input_sample_rate": sr,
            "input_channels": int(original.shape[1]), "windows": len(win), "notes": notes,
            "seconds": {"generate": round(t_generate, 2), "render": round(t_render, 2),
                        "total": round(time.perf_counter() - t0, 2)}}  # fmt: skip


def _save_npy(path, array: np.ndarray) -> None:
    """np.save through Python's own writes, so a full disk is OSError(ENOSPC), named by atomic_path (numpy's
    fast path, ndarray.tofile, says only "N requested and M written")."""
    with open(path, "wb") as f:
        np.save(SimpleNamespace(write=f.write), array, allow_pickle=False)


def _frames(seconds: float, fps: float, n_frames: int) -> int:
    """`seconds` as frames, at most `n_frames` + 1 (a --chunk of 1e308 s is one window, not an overflow)."""
    return round(min(seconds * fps, n_frames + 1))


def _check_run(folder: Path, host: str, semantic: str | None, text: str | None) -> None:
    """The run record (``decoder_run.json`` in `folder` or above its ``model/``) agrees with the request."""
    run = next((f / RUN_FILE for f in (folder, folder.parent) if (f / RUN_FILE).is_file()), None)
    if run is None:
        return  # load_trained says what is missing
    recipe = read_json(run, "decoder run record").get("recipe") or {}
    if recipe.get("host") != host:
        raise AnimateError(f"--model {folder} holds a {recipe.get('host')} decoder, not --host {host}")
    if semantic is not None and recipe.get("semantic") != semantic:
        raise AnimateError(
            f"--model {folder} was trained with --semantic {recipe.get('semantic')}, not {semantic}"
        )
    if recipe.get("semantic") == "oracle_word":
        raise AnimateError(f"--model {folder} is a positive control (oracle_word: it reads the corpus's pair word, "
                           "not the audio); animate a none, wav2sem or oracle_text decoder")  # fmt: skip
    if recipe.get("semantic") in ALIGNED:
        sem = recipe["semantic"]
        raise AnimateError(f"--model {folder} reads {ALIGNED[sem]} ({sem}, alignments.json), which a wav does not "
                           "have; animate a none, wav2sem or oracle_text decoder")  # fmt: skip
    if recipe.get("semantic") == "oracle_text" and not (text and text.strip()):
        raise AnimateError(f"--model {folder} reads the transcript's text vector (oracle_text): pass --text")
    if recipe.get("semantic") == "oracle_text" and not any(c.isalnum() for c in text):
        raise AnimateError(f"--text {text!r} has no letters or digits: it is no transcript for the oracle_text "
                           f"decoder of --model {folder}")  # fmt: skip


def _subject(subject: str | None, train: list[str], templates: dict) -> tuple[str, int]:
    """(subject name, its training identity or -1) for --subject: a name or a training index."""
    if subject is None:
        if not train:
            raise AnimateError("the decoder's dataset has no training subjects; pass --subject")
        return train[0], 0
    s = str(subject)
    if s.isascii() and s.isdigit() and int(s) < len(train):  # ASCII: "²".isdigit() too, but int() refuses it
        return train[int(s)], int(s)
    if s in train:
        return s, train.index(s)
    if s in templates:
        return s, -1  # a speaker the decoder never trained on: its face, no style
    raise AnimateError(f"--subject: unknown subject {s!r}; training subjects: {', '.join(train)} "
                       f"(or an index 0..{len(train) - 1})")  # fmt: skip


def _F_s(sem, audio: np.ndarray, n_frames: int, fps: float, text) -> np.ndarray | None:
    """The trained source's F_s of `audio`: (C_s,), or (n_frames, C_s) for a time-local source; None for none."""
    F_s = sem.vectors([audio], [text], ["animate"], n_frames=[n_frames], fps=fps)
    return None if F_s is None else np.ascontiguousarray(F_s[0])


def _clip(audio: np.ndarray, n_frames: int, fps: float, encoder, sem, text, own_encoder: bool, subject: str,
          index: int, template: torch.Tensor, dataset: int, stream: np.ndarray | None = None) -> Clip:  # fmt: skip
    """One window as a decoder clip: F_p from the trained encoder (or the audio, for a host that runs its
    own), F_s from the trained source (`stream`: a time-local source's frames of this window); no ground
    truth (the template stands in for the vertex count)."""
    F_p = None
    if not own_encoder:
        F_p = torch.from_numpy(align_to_fps(encoder.encode(audio), encoder.rate, fps, n_frames))
    F_s = _F_s(sem, audio, n_frames, fps, text) if stream is None else np.ascontiguousarray(stream)
    return Clip("animate", subject, index, template, template.expand(n_frames, -1, -1), F_p,
                None if F_s is None else torch.from_numpy(F_s), fps, text, None,
                torch.from_numpy(audio) if own_encoder else None, dataset)  # fmt: skip
