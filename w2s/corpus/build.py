"""Build the embedded talking-head corpus in the FaceFormer / VOCASET folder layout.

    OUT/wav/{SUBJECT}_{SENTENCE}.wav            16 kHz mono PCM
    OUT/vertices_npy/{SUBJECT}_{SENTENCE}.npy   float32 (T, V*3), 30 fps, metres
    OUT/templates.pkl                           {subject: (V, 3) float32}
    OUT/faces.npy  OUT/regions/{lips,upper_face}.txt
    OUT/transcripts.json  OUT/alignments.json  OUT/splits.json  OUT/corpus.json

Subjects and splits follow VOCASET's protocol: 8 training subjects (sentences 1–N), 2 validation and
2 unseen test subjects (sentences N/2+1–N). The near-homophone pairs the corpus covers are picked
round-robin over substitution types, so no single phoneme swap dominates; each of their words is in
at least two training sentences, and the val/test sentences carry both words of a pair each in new
sentences. Same seed → byte-identical files. The build happens in a temporary folder renamed into
place at the end, so a build that dies leaves nothing behind.

Every utterance's phoneme segments (alignments.json, and the lips made from them) must list what
espeak-ng's text-to-phoneme translation says its text is (agreement.py): a disagreement stops the
build with an error naming the utterance. A phoneme whose span was estimated, not timed by espeak-ng's
events, has "estimated": true (speech.ENDING_SHARE).
"""

from __future__ import annotations

import json
import logging
import pickle
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from w2s.corpus import agreement, face, speech
from w2s.corpus.pairs import Pair, mine_pairs
from w2s.corpus.sentences import filler_sentences, sentences_for_word
from w2s.utils.hashing import tree_sha256
from w2s.utils.io import building_dir, dump_json_sorted
from w2s.utils.paths import data_dir
from w2s.utils.runtime import progress

log = logging.getLogger(__name__)

FPS = 30
# bump when the builder's output changes; cached corpora of another version are rebuilt.
# 3: every phoneme espeak-ng produced is kept (zero-length events, the syllable-final /l/, get a span:
#    speech.ENDING_SHARE), pairs are mined on the re-measured phoneme distances, and every utterance's
#    phonemes are checked against espeak-ng's text-to-phoneme translation (agreement.py)
BUILD_VERSION = 3
SUBJECT_PREFIX = "SynthTalk"


@dataclass(frozen=True)
class Preset:
    name: str
    n_sentences: int  # per subject, numbered 1..n
    n_pairs: int  # near-homophone pairs the corpus covers
    n_control_pairs: int = 0  # pairs per control group (same viseme class; acoustically far)
    train_occurrences: int = 2  # training sentences per pair word (at least)
    n_train: int = 8
    n_val: int = 2
    n_test: int = 2

    @property
    def held_out_range(self) -> tuple[int, int]:
        """Sentences used for val/test subjects: the second half, as VOCASET's 21-40."""
        return self.n_sentences // 2 + 1, self.n_sentences


PRESETS = {
    "smoke": Preset("smoke", n_sentences=4, n_pairs=4, n_control_pairs=2, train_occurrences=2),
    "default": Preset("default", n_sentences=40, n_pairs=60, n_control_pairs=20, train_occurrences=2),
}


class BuildError(RuntimeError):
    pass


@dataclass(frozen=True)
class Speaker:
    subject: str
    voice: str
    rate: int
    pitch: int
    shape: face.FaceShape
    style: face.ArticulationStyle


def select_pairs(pairs: list[Pair], n: int, exclude: set[str] = frozenset()) -> list[Pair]:
    """n pairs with disjoint words (none in `exclude`), round-robin over substitution types (closest first)."""
    groups: dict[tuple[str, str], list[Pair]] = {}
    for p in pairs:
        groups.setdefault(tuple(sorted((p.phoneme_a, p.phoneme_b))), []).append(p)
    order = sorted(groups, key=lambda k: (groups[k][0].distance, k))
    chosen, used = [], set(exclude)
    depth = 0
    while len(chosen) < n and any(depth < len(groups[k]) for k in order):
        for k in order:
            if depth < len(groups[k]) and len(chosen) < n:
                p = groups[k][depth]
                if not (set(p.words) & used):
                    chosen.append(p)
                    used |= set(p.words)
        depth += 1
    if len(chosen) < n:
        raise BuildError(f"only {len(chosen)} near-homophone pairs with disjoint words; preset wants {n}")
    return chosen


def speakers(preset: Preset, seed: int) -> list[Speaker]:
    n = preset.n_train + preset.n_val + preset.n_test
    voices = list(speech.VOICES)
    if n > len(voices):
        raise BuildError(f"{n} subjects but only {len(voices)} distinct voices")
    rng = np.random.default_rng([seed, 0xC0])
    picks = rng.permutation(len(voices))[:n]
    out = []
    for i, v in enumerate(picks):
        out.append(
            Speaker(
                subject=f"{SUBJECT_PREFIX}_S{i + 1:02d}",
                voice=voices[v],
                rate=int(rng.integers(150, 196)),
                pitch=int(rng.integers(35, 66)),
                shape=face.FaceShape.random(seed * 1000 + i),
                style=face.ArticulationStyle.random(seed * 1000 + i),
            )
        )
    return out


def assign_sentences(
    preset: Preset, pairs: list[Pair], subjects: list[str], seed: int, controls: list[Pair] = ()
) -> dict[tuple[str, int], dict]:
    """{(subject, sentence number): {"text", "word"}} following the split protocol.

    Near-pair words fill the first training slots (each word `train_occurrences` times) and the
    held-out subjects' evaluated sentences; control-pair words (for the coupling analysis) fill the
    remaining slots twice each; fillers take whatever is left.
    """
    train, held = subjects[: preset.n_train], subjects[preset.n_train :]
    lo, hi = preset.held_out_range
    words = [w for p in pairs for w in p.words]
    n_held_slots = len(held) * (hi - lo + 1)
    per_word = {w: sentences_for_word(w, preset.train_occurrences + 1 + n_held_slots // max(len(words), 1), seed) for w in words}
    used = {w: 0 for w in words}

    def take(w):
        s = per_word[w][used[w] % len(per_word[w])]
        used[w] += 1
        return {"text": s.text, "word": w}

    train_slots = [(s, k) for k in range(1, preset.n_sentences + 1) for s in train]  # interleave subjects
    need = preset.train_occurrences * len(words)
    if need > len(train_slots):
        raise BuildError(f"{len(words)} pair words x {preset.train_occurrences} need {need} training sentences, have {len(train_slots)}")
    plan: dict[tuple[str, int], dict] = {}
    for i in range(need):
        plan[train_slots[i]] = take(words[i % len(words)])
    # held-out subjects: both words of a pair, in sentences not used in training
    held_slots = [(s, k) for s in held for k in range(lo, hi + 1)]
    for i, slot in enumerate(held_slots):
        p = pairs[(i // 2) % len(pairs)]
        plan[slot] = take(p.words[i % 2])
    rest = [(s, k) for s in subjects for k in range(1, preset.n_sentences + 1) if (s, k) not in plan]
    control_words = [w for p in controls for w in p.words]
    if 2 * len(control_words) > len(rest):
        raise BuildError(f"{len(control_words)} control words x 2 need {2 * len(control_words)} sentences, have {len(rest)}")
    for w in control_words:
        per_word[w] = sentences_for_word(w, 2, seed)
        used[w] = 0
    for i in range(2 * len(control_words)):
        plan[rest[i]] = take(control_words[i % len(control_words)])
    rest = rest[2 * len(control_words) :]
    fillers = filler_sentences(len(rest), seed)
    if len(fillers) < len(rest):
        raise BuildError(f"need {len(rest)} filler sentences, the generator made {len(fillers)}")
    for slot, f in zip(rest, fillers):
        plan[slot] = {"text": f.text, "word": None}
    return plan


def plan_corpus(cfg: Preset, seed: int) -> tuple[list[Speaker], list[Pair], list[Pair], dict[tuple[str, int], dict]]:
    """(speakers, near pairs, control pairs, {(subject, sentence number): {"text", "word"}}) of a build."""
    spk = speakers(cfg, seed)
    pairs = select_pairs(mine_pairs("near"), cfg.n_pairs)
    used = {w for p in pairs for w in p.words}
    controls = []
    for group in ("same_viseme", "far"):
        chosen = select_pairs(mine_pairs(group), cfg.n_control_pairs, exclude=used)
        used |= {w for p in chosen for w in p.words}
        controls += chosen
    return spk, pairs, controls, assign_sentences(cfg, pairs, [s.subject for s in spk], seed, controls)


def _write_npy(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as f:
        np.save(f, array, allow_pickle=False)


def _splits(cfg: Preset, subjects: list[str]) -> dict:
    """VOCASET's protocol: train speakers read every sentence, val and test speakers the held-out range."""
    lo, hi = cfg.held_out_range
    n_tr, n_va = cfg.n_train, cfg.n_val
    return {
        "train": {"subjects": subjects[:n_tr], "sentences": [1, cfg.n_sentences]},
        "val": {"subjects": subjects[n_tr : n_tr + n_va], "sentences": [lo, hi]},
        "test": {"subjects": subjects[n_tr + n_va :], "sentences": [lo, hi]},
    }


def _meta(cfg: Preset, seed: int, spk: list[Speaker], pairs: list[Pair], controls: list[Pair], templates: dict,
          n_sequences: int, content_sha256: str) -> dict:
    """corpus.json: what was built, from what, with which library versions, and the content hash."""
    return {
        "name": "w2s-synthtalk",
        "build_version": BUILD_VERSION,
        "preset": asdict(cfg),
        "seed": seed,
        "fps": FPS,
        "sample_rate": speech.SAMPLE_RATE,
        "n_vertices": int(templates[spk[0].subject].shape[0]),
        "n_subjects": len(spk),
        "n_sequences": n_sequences,
        "n_pairs": len(pairs),
        "n_control_pairs": {g: sum(p.group == g for p in controls) for g in ("same_viseme", "far")},
        "speakers": [
            {"subject": s.subject, "voice": s.voice, "rate": s.rate, "pitch": s.pitch,
             "shape": asdict(s.shape), "style": asdict(s.style)} for s in spk
        ],
        "versions": {p: metadata.version(p) for p in ("w2s", "espeakng-loader", "numpy", "soxr", "soundfile")},
        "content_sha256": content_sha256,
    }  # fmt: skip


def build(out, preset: str = "default", seed: int = 0, force: bool = False) -> Path:
    """Build the corpus into `out` (a new folder). Returns its path."""
    import soundfile as sf

    if preset not in PRESETS:
        raise BuildError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}")
    cfg = PRESETS[preset]
    out = Path(out)
    if out.exists() and not force:
        raise BuildError(f"{out} already exists; pass --force to replace it")
    if not out.parent.is_dir():
        raise BuildError(f"cannot build into {out}: folder {out.parent} does not exist")

    spk, pairs, controls, plan = plan_corpus(cfg, seed)
    subjects = [s.subject for s in spk]

    with building_dir(out) as tmp:
        (tmp / "wav").mkdir()
        (tmp / "vertices_npy").mkdir()
        (tmp / "regions").mkdir()
        transcripts, alignments, templates = {}, {}, {}
        faces_ = regions = None
        jobs = [(i, s, k) for i, s in enumerate(spk) for k in range(1, cfg.n_sentences + 1)]
        heads = {}
        for i, s, k in progress(jobs, desc="corpus", unit="utt"):
            if s.subject not in heads:
                mesh = face.make_head(s.shape)
                heads[s.subject] = (mesh, face.VisemeRig.from_head(mesh))
                templates[s.subject] = mesh.vertices.astype(np.float32)
                faces_, regions = mesh.faces, mesh.regions
            mesh, rig = heads[s.subject]
            stem = f"{s.subject}_sentence{k:02d}"
            text = plan[(s.subject, k)]["text"]
            utt = speech.synthesize(text, s.voice, s.rate, s.pitch)
            wrong = agreement.disagreements(utt)
            if wrong:  # ground truth must show every phoneme that was said
                raise BuildError(f"{stem}: {agreement.describe(utt, wrong)}")
            n_frames = face.n_frames_for(utt.duration, FPS)
            verts = face.animate(mesh, rig, utt.phonemes, n_frames, FPS, s.style, seed=seed * 100_003 + i * 1000 + k)
            sf.write(tmp / "wav" / f"{stem}.wav", utt.audio, speech.SAMPLE_RATE, subtype="PCM_16", format="WAV")
            _write_npy(tmp / "vertices_npy" / f"{stem}.npy", verts.reshape(n_frames, -1))
            transcripts[stem] = text
            t = utt.timings()
            alignments[stem] = {"phonemes": t["phonemes"], "words": t["words"], "target_word": plan[(s.subject, k)]["word"]}

        with open(tmp / "templates.pkl", "wb") as f:
            pickle.dump(templates, f, protocol=4)
        _write_npy(tmp / "faces.npy", faces_.astype(np.int32))
        for name in ("lips", "upper_face"):
            (tmp / "regions" / f"{name}.txt").write_text(" ".join(map(str, regions[name])) + "\n")
        dump_json_sorted(tmp / "splits.json", _splits(cfg, subjects))
        dump_json_sorted(tmp / "transcripts.json", transcripts)
        dump_json_sorted(tmp / "alignments.json", alignments)
        dump_json_sorted(tmp / "pairs.json", [p.to_json() for p in pairs + controls])  # "group": near / same_viseme / far
        meta = _meta(cfg, seed, spk, pairs, controls, templates, len(jobs), tree_sha256(tmp, skip="corpus.json"))
        dump_json_sorted(tmp / "corpus.json", meta)  # written last: a folder without it is not a corpus
    log.info("built %s: %d sequences, %d pairs", out, len(jobs), len(pairs))
    return out


def default_location(preset: str = "default", seed: int = 0) -> Path:

    return data_dir() / "corpus" / f"synthtalk-{preset}-seed{seed}"


def load_or_build(preset: str = "default", seed: int = 0, root=None) -> Path:
    """The corpus folder for (preset, seed): reused when a complete build is there, else built."""
    root = Path(root) if root else default_location(preset, seed)
    meta = root / "corpus.json"
    if meta.is_file():
        m = json.loads(meta.read_text(encoding="utf-8"))
        same = m.get("preset", {}).get("name") == preset and m.get("seed") == seed
        if same and m.get("build_version") == BUILD_VERSION:
            return root
        if same:  # an older builder's output for the same request: rebuild in place
            log.warning("%s was built by builder version %s; rebuilding", root, m.get("build_version"))
            return build(root, preset, seed, force=True)
        raise BuildError(f"{root} holds a different corpus (preset {m.get('preset', {}).get('name')}, seed {m.get('seed')})")
    root.parent.mkdir(parents=True, exist_ok=True)
    return build(root, preset, seed, force=root.exists())
