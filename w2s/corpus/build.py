"""Build the embedded talking-head corpus in the FaceFormer / VOCASET folder layout.

    OUT/wav/{SUBJECT}_{SENTENCE}.wav            16 kHz mono PCM
    OUT/vertices_npy/{SUBJECT}_{SENTENCE}.npy   float32 (T, V*3), the preset's fps (30; 25 BIWI-like), metres
    OUT/templates.pkl                           {subject: (V, 3) float32}
    OUT/faces.npy  OUT/regions/{lips,upper_face}.txt
    OUT/transcripts.json  OUT/alignments.json  OUT/splits.json  OUT/corpus.json

Subjects and splits follow VOCASET's protocol: 8 training subjects (sentences 1–N), 2 validation and
2 unseen test subjects (sentences N/2+1–N). The near-homophone pairs the corpus covers are picked
round-robin over substitution types, so no single phoneme swap dominates; each of their words is in
at least two training sentences, and the val/test sentences carry both words of a pair each in new
sentences. Same seed → byte-identical files. The build happens in a temporary folder renamed into
place at the end, so a build that dies leaves nothing behind.

A second dataset, ``biwi-like``, differs from the default the way BIWI differs from VOCASET, so a
host can train across two datasets with different meshes (UniTalker): another head topology (a finer
grid, 4,034 vertices instead of 2,642; its own lip and upper-face regions), 25 fps instead of 30, its
own speakers (``SynthBiwi_*``; voices the default's speakers of that seed do not use come first, and
rates, pitches, faces and styles from another random stream) and its own sentences (none of the
default corpus's texts; the near-pair words may be the same), and BIWI's seen-speaker protocol:
6 subjects, each reading sentences 1–32 for training, 33–36 for validation and 37–40 for test (as
BIWI-Test-A), so the held-out pair words are said by training speakers in new sentences.
``smoke-biwi-like`` is its seconds-long variant for tests (6 x 6, against ``smoke``).

Every utterance's phoneme segments (alignments.json, and the lips made from them) must list what
espeak-ng's text-to-phoneme translation says its text is (agreement.py): a disagreement stops the
build with an error naming the utterance. A phoneme whose span was estimated, not timed by espeak-ng's
events, has "estimated": true (speech.ENDING_SHARE).
"""

from __future__ import annotations

import logging
import pickle
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from w2s.corpus import agreement, face, masking, speech
from w2s.corpus.pairs import Pair, mine_pairs
from w2s.corpus.presets import _V3_FIELDS, FPS, MASKED_FROM, PRESETS, SUBJECT_PREFIX, Preset  # noqa: F401  (re-exported)
from w2s.corpus.sentences import filler_sentences, sentences_for_word
from w2s.utils.hashing import tree_sha256
from w2s.utils.io import building_dir, dump_json_sorted, output_lock, read_json
from w2s.utils.paths import data_dir
from w2s.utils.runtime import progress

log = logging.getLogger(__name__)

# bump when the builder's output changes; cached corpora of another version are rebuilt.
# 3: every phoneme espeak-ng produced is kept (zero-length events, the syllable-final /l/, get a span:
#    speech.ENDING_SHARE), pairs are mined on the re-measured phoneme distances, and every utterance's
#    phonemes are checked against espeak-ng's text-to-phoneme translation (agreement.py)
BUILD_VERSION = 3


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
    """The preset's subjects; with `avoid`, the voices the avoided preset's speakers do not use come first."""
    n = preset.n_train + preset.n_val + preset.n_test
    voices = list(speech.VOICES)
    if n > len(voices):
        raise BuildError(f"{n} subjects but only {len(voices)} distinct voices")
    st = preset.stream
    rng = np.random.default_rng([seed, 0xC0] if st == 0 else [seed, 0xC0, st])
    order = rng.permutation(len(voices))
    if preset.avoid:
        taken = {s.voice for s in speakers(PRESETS[preset.avoid], seed)}
        order = [v for v in order if voices[v] not in taken] + [v for v in order if voices[v] in taken]
    picks = order[:n]
    out = []
    for i, v in enumerate(picks):
        out.append(
            Speaker(
                subject=f"{preset.subject_prefix}_S{i + 1:02d}",
                voice=voices[v],
                rate=int(rng.integers(150, 196)),
                pitch=int(rng.integers(35, 66)),
                shape=face.FaceShape.random(seed * 1000 + i, st),
                style=face.ArticulationStyle.random(seed * 1000 + i, st),
            )
        )
    return out


def speakers_from_meta(meta: dict) -> tuple[Preset, list[Speaker]]:
    """The preset and speakers (in build order) a built corpus's ``corpus.json`` records."""
    p = dict(meta["preset"])
    if "head" in p:
        p["head"] = tuple(p["head"])
    spk = [Speaker(s["subject"], s["voice"], int(s["rate"]), int(s["pitch"]), face.FaceShape(**s["shape"]),
                   face.ArticulationStyle(**s["style"])) for s in meta["speakers"]]  # fmt: skip
    return Preset(**p), spk


def speaker_head(speaker: Speaker, cfg: Preset) -> tuple[face.HeadMesh, face.VisemeRig]:
    """The speaker's head mesh and viseme rig."""
    mesh = face.make_head(speaker.shape, cfg.topology)
    return mesh, face.VisemeRig.from_head(mesh)


def utterance_motion(cfg: Preset, seed: int, speaker_index: int, speaker: Speaker, sentence: int,
                     phonemes: list[speech.PhonemeSegment], n_frames: int,
                     head: tuple[face.HeadMesh, face.VisemeRig] | None = None) -> np.ndarray:  # fmt: skip
    """(T, V, 3) float32: the face the builder makes for utterance (`speaker`, `sentence`) of a build with
    `seed` from a phoneme timeline (its own, or another one: a counterfactual). `head`: ``speaker_head``'s."""
    mesh, rig = head or speaker_head(speaker, cfg)
    motion_seed = seed * 100_003 + speaker_index * 1000 + sentence + cfg.stream * 10_000_019
    return face.animate(mesh, rig, phonemes, n_frames, cfg.fps, speaker.style, seed=motion_seed)


def _text_seed(preset: Preset, seed: int) -> int:
    """The seed of the sentence generator: the build seed, on another stream for stream > 0."""
    return seed if preset.stream == 0 else (preset.stream << 32) + seed


def assign_sentences(
    preset: Preset,
    pairs: list[Pair],
    subjects: list[str],
    seed: int,
    controls: list[Pair] = (),
    avoid: dict[str | None, set[str]] | None = None,
) -> dict[tuple[str, int], dict]:
    """{(subject, sentence number): {"text", "word"}} following the split protocol.

    Near-pair words fill the first training slots (each word `train_occurrences` times) and the
    held-out slots (val and test: unseen subjects' second half, or the training subjects' last
    sentences); control-pair words (for the coupling analysis) fill the remaining slots twice each;
    fillers take whatever is left. `avoid`: {target word (None: fillers): texts} no sentence may repeat.
    """
    tseed = _text_seed(preset, seed)
    avoid = avoid or {}

    def sentences(w, n):
        if not avoid:
            return sentences_for_word(w, n, tseed)
        skip = avoid.get(w, set())
        got = [x for x in sentences_for_word(w, n + len(skip), tseed) if x.text not in skip][:n]
        if not got:
            raise BuildError(f"no sentence for {w!r} that preset {preset.avoid} does not already say")
        return got

    table = preset.split_table(subjects)
    train, (t_lo, t_hi) = table["train"]
    held_slots = [
        (s, k)
        for split in ("val", "test")
        for s in table[split][0]
        for k in range(table[split][1][0], table[split][1][1] + 1)
    ]
    words = [w for p in pairs for w in p.words]
    held_words = [pairs[(i // 2) % len(pairs)].words[i % 2] for i in range(len(held_slots))] if pairs else []
    # each word's training sentences, then enough for its held-out slots (never a training sentence again)
    extra = {w: max(len(held_slots) // max(len(words), 1), held_words.count(w) - 1) for w in words}
    per_word = {w: sentences(w, preset.train_occurrences + 1 + extra[w]) for w in words}
    used = {w: 0 for w in words}

    def take(w):
        s = per_word[w][used[w] % len(per_word[w])]
        used[w] += 1
        return {"text": s.text, "word": w}

    train_slots = [(s, k) for k in range(t_lo, t_hi + 1) for s in train]  # interleave subjects
    need = preset.train_occurrences * len(words)
    if need > len(train_slots):
        raise BuildError(
            f"{len(words)} pair words x {preset.train_occurrences} need {need} training sentences, have {len(train_slots)}"
        )
    plan: dict[tuple[str, int], dict] = {}
    for i in range(need):
        plan[train_slots[i]] = take(words[i % len(words)])
    # held-out slots: both words of a pair, in sentences not used in training
    for slot, w in zip(held_slots, held_words):
        plan[slot] = take(w)
    rest = [(s, k) for s in subjects for k in range(1, preset.n_sentences + 1) if (s, k) not in plan]
    control_words = [w for p in controls for w in p.words]
    if 2 * len(control_words) > len(rest):
        raise BuildError(
            f"{len(control_words)} control words x 2 need {2 * len(control_words)} sentences, have {len(rest)}"
        )
    for w in control_words:
        per_word[w] = sentences(w, 2)
        used[w] = 0
    for i in range(2 * len(control_words)):
        plan[rest[i]] = take(control_words[i % len(control_words)])
    rest = rest[2 * len(control_words) :]
    skip = avoid.get(None, set())
    fillers = [f for f in filler_sentences(len(rest) + len(skip), tseed) if f.text not in skip][: len(rest)]
    if len(fillers) < len(rest):
        raise BuildError(f"need {len(rest)} filler sentences, the generator made {len(fillers)}")
    for slot, f in zip(rest, fillers):
        plan[slot] = {"text": f.text, "word": None}
    return plan


def plan_corpus(
    cfg: Preset, seed: int, mined: dict[str, list[Pair]] | None = None
) -> tuple[list[Speaker], list[Pair], list[Pair], dict[tuple[str, int], dict]]:
    """(speakers, near pairs, control pairs, {(subject, sentence number): {"text", "word"}}) of a build.

    mined: ``{group: mine_pairs(group)}`` when the caller has it (mining takes a second per group)."""
    mined = mined or {g: mine_pairs(g) for g in ("near", "same_viseme", "far")}
    spk = speakers(cfg, seed)
    pairs = select_pairs(mined["near"], cfg.n_pairs)
    used = {w for p in pairs for w in p.words}
    controls = []
    for group in ("same_viseme", "far"):
        chosen = select_pairs(mined[group], cfg.n_control_pairs, exclude=used)
        used |= {w for p in chosen for w in p.words}
        controls += chosen
    avoid: dict[str | None, set[str]] = {}
    if cfg.avoid:  # the other preset's sentences, by target word
        for v in plan_corpus(PRESETS[cfg.avoid], seed, mined)[3].values():
            avoid.setdefault(v["word"], set()).add(v["text"])
    return spk, pairs, controls, assign_sentences(cfg, pairs, [s.subject for s in spk], seed, controls, avoid)


def _write_npy(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as f:
        np.save(f, array, allow_pickle=False)


def _splits(cfg: Preset, subjects: list[str]) -> dict:
    """splits.json. VOCASET's protocol: train speakers read every sentence, val and test speakers the
    held-out range; BIWI's: the training speakers' last sentences are val and test."""
    return {
        k: {"subjects": list(subj), "sentences": list(rng)}
        for k, (subj, rng) in cfg.split_table(subjects).items()
    }


def _meta(
    cfg: Preset,
    seed: int,
    spk: list[Speaker],
    pairs: list[Pair],
    controls: list[Pair],
    templates: dict,
    n_sequences: int,
    content_sha256: str,
) -> dict:
    """corpus.json: what was built, from what, with which library versions, and the content hash."""
    return {
        "name": f"w2s-{cfg.subject_prefix.lower()}",  # w2s-synthtalk (VOCASET-like), w2s-synthbiwi
        "build_version": BUILD_VERSION,
        "preset": cfg.to_json(),
        "seed": seed,
        "fps": cfg.fps,
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
    """Build the corpus into `out` (a new folder). Returns its path.

    Holds the lock beside `out` (:func:`w2s.utils.io.output_lock`) from the check that `out` does not
    exist to the rename: a second build into the same folder is refused with an error naming the
    process that holds it, never silently replaces the first. Temp folders of killed builds are swept."""
    if preset not in PRESETS:
        raise BuildError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}")
    cfg = PRESETS[preset]
    out = Path(out)
    if out.exists() and not force:
        raise BuildError(f"{out} already exists; pass --force to replace it")
    if not out.parent.is_dir():
        raise BuildError(f"cannot build into {out}: folder {out.parent} does not exist")
    with output_lock(out, wait=False, what="built"):  # a second build into `out` is refused at once
        if out.exists() and not force:  # again, under the lock: another build may have finished meanwhile
            raise BuildError(f"{out} already exists; pass --force to replace it")
        return _build(out, cfg, seed)


def _build(out: Path, cfg: Preset, seed: int) -> Path:
    """The build itself, into a temp folder renamed to `out` (the caller holds `out`'s lock)."""
    import soundfile as sf

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
                heads[s.subject] = speaker_head(s, cfg)
                mesh = heads[s.subject][0]
                templates[s.subject] = mesh.vertices.astype(np.float32)
                faces_, regions = mesh.faces, mesh.regions
            stem = f"{s.subject}_sentence{k:02d}"
            text = plan[(s.subject, k)]["text"]
            utt = speech.synthesize(text, s.voice, s.rate, s.pitch)
            wrong = agreement.disagreements(utt)
            if wrong:  # ground truth must show every phoneme that was said
                raise BuildError(f"{stem}: {agreement.describe(utt, wrong)}")
            t = utt.timings()
            masked = None
            if cfg.mask != "clean":  # after the motion's phonemes are fixed: the lips stay the true word's
                rng = np.random.default_rng([seed, i, k, 0x3A5C])
                audio, masked = masking.mask_utterance(utt.audio, speech.SAMPLE_RATE, t["phonemes"], t["words"],
                                                       pairs, cfg.mask, rng)  # fmt: skip
                utt.audio = audio
            n_frames = face.n_frames_for(utt.duration, cfg.fps)
            verts = utterance_motion(cfg, seed, i, s, k, utt.phonemes, n_frames, heads[s.subject])
            sf.write(
                tmp / "wav" / f"{stem}.wav", utt.audio, speech.SAMPLE_RATE, subtype="PCM_16", format="WAV"
            )
            _write_npy(tmp / "vertices_npy" / f"{stem}.npy", verts.reshape(n_frames, -1))
            transcripts[stem] = text
            alignments[stem] = {
                "phonemes": t["phonemes"],
                "words": t["words"],
                "target_word": plan[(s.subject, k)]["word"],
            }
            if masked is not None:
                alignments[stem]["masked"] = masked

        with open(tmp / "templates.pkl", "wb") as f:
            pickle.dump(templates, f, protocol=4)
        _write_npy(tmp / "faces.npy", faces_.astype(np.int32))
        for name in ("lips", "upper_face"):
            (tmp / "regions" / f"{name}.txt").write_text(" ".join(map(str, regions[name])) + "\n")
        dump_json_sorted(tmp / "splits.json", _splits(cfg, subjects))
        dump_json_sorted(tmp / "transcripts.json", transcripts)
        dump_json_sorted(tmp / "alignments.json", alignments)
        # "group": near / same_viseme / far
        dump_json_sorted(tmp / "pairs.json", [p.to_json() for p in pairs + controls])
        meta = _meta(
            cfg, seed, spk, pairs, controls, templates, len(jobs), tree_sha256(tmp, skip="corpus.json")
        )
        dump_json_sorted(tmp / "corpus.json", meta)  # written last: a folder without it is not a corpus
    log.info("built %s: %d sequences, %d pairs", out, len(jobs), len(pairs))
    return out


def default_location(preset: str = "default", seed: int = 0) -> Path:

    return data_dir() / "corpus" / f"synthtalk-{preset}-seed{seed}"


def clean_twin(corpus_dir) -> Path:
    """The corpus whose encoders hear `corpus_dir`: `corpus_dir` itself, or, for a masked preset
    (``presets.MASKED_FROM``), the clean corpus it masks (same seed; built if missing). The tiny HuBERT and the
    recogniser stand for models pretrained on clean speech: masking is in the face data, not in pretraining."""
    corpus_dir = Path(corpus_dir)
    meta = corpus_dir / "corpus.json"
    m = read_json(meta, "corpus metadata", kind=dict) if meta.is_file() else {}
    name = (m.get("preset") or {}).get("name") if isinstance(m.get("preset"), dict) else None
    if name not in MASKED_FROM:
        return corpus_dir
    return load_or_build(MASKED_FROM[name], int(m.get("seed", 0)))


def load_or_build(preset: str = "default", seed: int = 0, root=None) -> Path:
    """The corpus folder for (preset, seed): reused when a complete build is there, else built.

    A shared cache: while another process builds the same folder, this one waits for it and reuses it."""
    root = Path(root) if root else default_location(preset, seed)
    root.parent.mkdir(parents=True, exist_ok=True)
    with output_lock(root, wait=True, what="built"):
        meta = root / "corpus.json"
        if meta.is_file():
            m = read_json(meta, "corpus metadata", kind=dict)
            name = m.get("preset", {}).get("name") if isinstance(m.get("preset"), dict) else None
            same = name == preset and m.get("seed") == seed
            if same and m.get("build_version") == BUILD_VERSION:
                return root
            if same:  # an older builder's output for the same request: rebuild in place
                log.warning("%s was built by builder version %s; rebuilding", root, m.get("build_version"))
                return build(root, preset, seed, force=True)
            raise BuildError(f"{root} holds a different corpus (preset {name}, seed {m.get('seed')})")
        return build(root, preset, seed, force=root.exists())
