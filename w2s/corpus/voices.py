"""A test voice: the held-out sentences of a built corpus, spoken by another synthesizer (CMU flite).

Every model here hears espeak-ng only. This renders the **val and test** utterances of an espeak-ng corpus
(same texts, same speakers, same stems and split membership) with flite (`w2s.corpus.flite`), and gives each
the ground-truth lips our rig makes from *flite's* phoneme timings, with the speaker's own head, articulation
style and motion seed (`w2s.corpus.build.utterance_motion`). It is never trained on.

    OUT/ the corpus layout of w2s.corpus.build, holding the val and test utterances only; templates.pkl, faces,
         regions, pairs.json and splits.json copied from the source (so the training subjects' order, the
         hosts' conditioning one-hot, is the same); corpus.json records "voice_set": "flite", the source
         corpus's path and content hash, and each speaker's flite voice and duration_stretch

Voices: one per speaker, following the espeak-ng voice's register: flite's ``slt`` (a US female voice) for
the female espeak-ng variants, ``rms`` (a US male voice) for the others; both are flite's best (clustergen)
US voices (``awb`` is Scottish English, ``kal`` a diphone voice). On the default corpus this gives val and
test one voice of each (S09 rms, S10 slt; S11 slt, S12 rms). The speaker's rate (words per minute, espeak-ng's
default 175) sets flite's duration_stretch = 175 / rate, so a fast speaker stays fast; pitch is each flite
voice's own (flite.features says why).

    build(out, "flite", preset="default", seed=0)     # `w2s corpus build OUT --voice-set flite`
    load_or_build("flite", "default", 0)              # data/corpus/synthtalk-default-seed0-flite, built once
"""

from __future__ import annotations

import logging
import shutil
from importlib import metadata
from pathlib import Path

import numpy as np

from w2s.corpus import face, flite
from w2s.corpus.build import (
    BUILD_VERSION,
    BuildError,
    default_location,
    speaker_head,
    speakers_from_meta,
    utterance_motion,
)
from w2s.corpus.build import load_or_build as source_corpus
from w2s.corpus.presets import PRESETS
from w2s.corpus.speech import SAMPLE_RATE
from w2s.utils.hashing import tree_sha256
from w2s.utils.io import building_dir, dump_json_sorted, output_lock, read_json
from w2s.utils.runtime import progress

log = logging.getLogger(__name__)

VOICE_SETS = ("espeak", "flite")  # espeak: the corpus itself (w2s.corpus.build); flite: this module
SPLITS = ("val", "test")
# bump when this builder's output changes; a cached flite corpus of another version is rebuilt
VOICES_VERSION = 1
FEMALE_ESPEAK = frozenset({"us-f1", "us-f2", "us-f3", "us-f4", "us-f5", "us-annie"})
ESPEAK_RATE = 175  # espeak-ng's default rate, words per minute
COPIED = ("templates.pkl", "faces.npy", "regions/lips.txt", "regions/upper_face.txt", "pairs.json", "splits.json")


class VoiceError(BuildError):
    """A voice-set build that cannot be made (bad option, flite missing, a source that is not a corpus)."""


def flite_voice(speaker: dict) -> dict:
    """A speaker's flite rendering (corpus.json's speaker entry in, {"voice", "duration_stretch"} out)."""
    return {
        "voice": "slt" if speaker["voice"] in FEMALE_ESPEAK else "rms",
        "duration_stretch": round(ESPEAK_RATE / int(speaker["rate"]), 4),
    }


def check_request(voice_set: str, preset: str) -> None:
    """VoiceError (one line) for a voice set or preset this builder does not make."""
    if voice_set not in VOICE_SETS or voice_set == "espeak":
        raise VoiceError(f"--voice-set {voice_set!r}: this builder makes {[v for v in VOICE_SETS if v != 'espeak']}")
    if preset not in PRESETS:
        raise VoiceError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}")
    if PRESETS[preset].mask != "clean":
        raise VoiceError(f"--voice-set {voice_set} renders a clean corpus; preset {preset!r} masks its audio "
                         "(choose a preset without masking, e.g. default)")  # fmt: skip
    why = flite.available()
    if why:
        raise VoiceError(f"--voice-set {voice_set}: {why}")


def unavailable(voice_set: str, preset: str = "default") -> str | None:
    """Why the `voice_set` rendering of `preset` cannot be built here (check_request's one line), or None."""
    try:
        check_request(voice_set, preset)
    except VoiceError as e:
        return str(e)
    return None


def build(out, voice_set: str = "flite", preset: str = "default", seed: int = 0, force: bool = False,
          source=None) -> Path:  # fmt: skip
    """Render the val and test utterances of the espeak-ng corpus (`source`, else the one for (`preset`, `seed`)
    under data/corpus/, built first if missing) into `out` (a new folder) with flite. Returns `out`.

    Like `w2s.corpus.build.build`: refused when `out` exists (unless `force`), built in a temp folder beside it
    under its lock, renamed into place at the end."""
    check_request(voice_set, preset)
    out = Path(out)
    if out.exists() and not force:
        raise VoiceError(f"{out} already exists; pass --force to replace it")
    if not out.parent.is_dir():
        raise VoiceError(f"cannot build into {out}: folder {out.parent} does not exist")
    src = Path(source) if source is not None else source_corpus(preset, seed)
    with output_lock(out, wait=False, what="built"):
        if out.exists() and not force:
            raise VoiceError(f"{out} already exists; pass --force to replace it")
        return _build(out, src)


def _source_meta(src: Path) -> dict:
    if not (src / "corpus.json").is_file():
        raise VoiceError(f"{src} is not a corpus built by `w2s corpus build` (no corpus.json)")
    meta = read_json(src / "corpus.json", "corpus metadata", kind=dict)
    if meta.get("voice_set", "espeak") != "espeak":
        raise VoiceError(f"{src} is itself a {meta['voice_set']} rendering; give the espeak-ng corpus")
    if (meta.get("preset") or {}).get("mask", "clean") != "clean":
        raise VoiceError(f"{src}: its audio is masked (preset {meta['preset'].get('name')}); give a clean corpus")
    return meta


def _build(out: Path, src: Path) -> Path:
    import soundfile as sf

    meta = _source_meta(src)
    cfg, speakers = speakers_from_meta(meta)
    seed = int(meta["seed"])
    index = {s.subject: i for i, s in enumerate(speakers)}
    rendering = {s["subject"]: flite_voice(s) for s in meta["speakers"]}
    texts = read_json(src / "transcripts.json", "transcripts", kind=dict)
    said = read_json(src / "alignments.json", "alignments", kind=dict)
    table = cfg.split_table([s.subject for s in speakers])
    jobs = [(subject, k) for split in SPLITS for subject in table[split][0]
            for k in range(table[split][1][0], table[split][1][1] + 1)]  # fmt: skip
    missing = [f"{s}_sentence{k:02d}" for s, k in jobs if f"{s}_sentence{k:02d}" not in texts]
    if missing:
        raise VoiceError(f"{src / 'transcripts.json'} has no {missing[0]!r}, an utterance of its val/test splits")
    with building_dir(out) as tmp:
        (tmp / "wav").mkdir()
        (tmp / "vertices_npy").mkdir()
        (tmp / "regions").mkdir()
        for name in COPIED:
            shutil.copyfile(src / name, tmp / name)
        transcripts, alignments, heads = {}, {}, {}
        for subject, sentence in progress(jobs, desc="flite corpus", unit="utt"):
            stem = f"{subject}_sentence{sentence:02d}"
            spk = speakers[index[subject]]
            v = rendering[subject]
            text = texts[stem]
            utt = flite.synthesize(text, v["voice"], v["duration_stretch"])
            if subject not in heads:
                heads[subject] = speaker_head(spk, cfg)
            n_frames = face.n_frames_for(utt.duration, cfg.fps)
            verts = utterance_motion(cfg, seed, index[subject], spk, sentence, utt.phonemes, n_frames, heads[subject])
            sf.write(tmp / "wav" / f"{stem}.wav", utt.audio, SAMPLE_RATE, subtype="PCM_16", format="WAV")
            with open(tmp / "vertices_npy" / f"{stem}.npy", "wb") as f:
                np.save(f, verts.reshape(n_frames, -1), allow_pickle=False)
            transcripts[stem] = text
            t = utt.timings()
            alignments[stem] = {"phonemes": t["phonemes"], "words": t["words"],
                                "target_word": said.get(stem, {}).get("target_word")}  # fmt: skip
        dump_json_sorted(tmp / "transcripts.json", transcripts)
        dump_json_sorted(tmp / "alignments.json", alignments)
        dump_json_sorted(tmp / "corpus.json", _meta(meta, src, rendering, jobs, tree_sha256(tmp, skip="corpus.json")))
    log.info("built %s: %d utterances in flite's voices from %s", out, len(jobs), src)
    return out


def _meta(source: dict, src: Path, rendering: dict, jobs: list[tuple[str, int]], content_sha256: str) -> dict:
    """corpus.json: the source's, with the voice set, the source, each speaker's flite voice and the new counts."""
    meta = dict(source)
    meta.update({
        "name": f"{source['name']}-flite",
        "voice_set": "flite",
        "voices_version": VOICES_VERSION,
        "splits_rendered": list(SPLITS),
        "source": {"path": str(src.resolve()), "content_sha256": source["content_sha256"],
                   "build_version": source.get("build_version", BUILD_VERSION)},
        "n_sequences": len(jobs),
        "n_subjects": len({s for s, _ in jobs}),  # subjects with utterances (templates.pkl keeps every one)
        "speakers": [{**s, "flite": rendering[s["subject"]]} for s in source["speakers"]],
        "versions": {**source.get("versions", {}), "flite": flite.version(), "w2s": metadata.version("w2s")},
        "content_sha256": content_sha256,
    })  # fmt: skip
    return meta


def location(voice_set: str, preset: str = "default", seed: int = 0) -> Path:
    """Where :func:`load_or_build` keeps the `voice_set` rendering of (preset, seed): beside the espeak corpus."""
    base = default_location(preset, seed)
    return base.with_name(f"{base.name}-{voice_set}")


def load_or_build(voice_set: str = "flite", preset: str = "default", seed: int = 0, root=None) -> Path:
    """The `voice_set` rendering of the corpus (preset, seed): reused when built from the current espeak-ng
    corpus by this builder's version, else (re)built. Waits for another process building the same folder."""
    check_request(voice_set, preset)
    src = source_corpus(preset, seed)
    root = Path(root) if root else location(voice_set, preset, seed)
    with output_lock(root, wait=True, what="built"):
        meta = root / "corpus.json"
        if meta.is_file():
            m = read_json(meta, "corpus metadata", kind=dict)
            want = read_json(src / "corpus.json", "corpus metadata", kind=dict)["content_sha256"]
            if (m.get("voice_set") == voice_set and m.get("voices_version") == VOICES_VERSION
                    and (m.get("source") or {}).get("content_sha256") == want):  # fmt: skip
                return root
            log.warning("%s was built from another corpus or by another builder version; rebuilding", root)
        return _build(root, src)
