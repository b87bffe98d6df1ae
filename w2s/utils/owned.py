"""Ownership of output folders: w2s removes, replaces or writes into only what it wrote itself.

A training run's ``--out`` may be a folder that also holds the user's files. Before any work, a run
checks the entries it writes there (:data:`LAYOUTS`: ``decoder_run.json``, ``train/``, ``model/``,
...); at its first write it lists them in the folder's manifest, ``OUT/.w2s-owned.json``
(``{"kind": "decoder", "entries": [...]}``). An entry is w2s's when the manifest lists it for this
kind of run and, for a folder, the folder holds only the files w2s writes into it (and their temp
files). Anything else with one of those names is the user's: the run is refused at once, naming it,
and ``--force`` removes only w2s's entries, never the user's.

A run folder written before the manifest existed (its run record, no manifest) is adopted on the
same file-level test.
"""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path

from w2s.utils.io import OutputError, read_json, write_json

MANIFEST = ".w2s-owned.json"

TRAIN_FILES = ("checkpoint.pt", "history.json")  # w2s.train.fit's out_dir
MODEL_FILES = ("config.json", "model.safetensors")  # w2s.nn.checkpoint's save_pretrained
# what each kind of run writes into its --out: files (None) and folders (the names of the files in them);
# a name with "*" matches the files a later command adds (`w2s decoder eval`'s default eval-SPLIT.json)
LAYOUTS = {
    "decoder": {"decoder_run.json": None, "train": TRAIN_FILES, "model": MODEL_FILES, "eval-*.json": None},
    "wav2sem": {"wav2sem_run.json": None, "eval.json": None, "history.json": None, "train": TRAIN_FILES,
                "model": MODEL_FILES},
}  # fmt: skip
RECORDS = {"decoder": "decoder_run.json", "wav2sem": "wav2sem_run.json"}  # a run's record, in its layout


def _manifest(out: Path) -> dict | None:
    try:
        return read_json(out / MANIFEST, "w2s manifest", required_keys={"kind": str, "entries": list})
    except ValueError:  # missing or unreadable: nothing is listed
        return None


def _present(out: Path, kind: str, added: bool = False) -> list[Path]:
    """The entries of `kind`'s layout that exist in `out` (symbolic links included): those the run writes,
    or with `added`, those later commands add (the layout's names with "*")."""
    if not added:
        return [out / n for n in LAYOUTS[kind] if "*" not in n and os.path.lexists(out / n)]
    patterns = [n for n in LAYOUTS[kind] if "*" in n]
    return sorted(p for p in out.iterdir() if any(fnmatch.fnmatch(p.name, pat) for pat in patterns))


def _layout_entry(kind: str, name: str):
    return next(v for k, v in LAYOUTS[kind].items() if fnmatch.fnmatch(name, k))


def _listed(out: Path, kind: str) -> set[str]:
    """The names the manifest lists for `kind`; without a manifest, a folder holding `kind`'s run record
    (written by a w2s of before the manifest) lists what is there."""
    m = _manifest(out)
    if m is not None:
        return {str(e) for e in m["entries"]} if m["kind"] == kind else set()
    try:
        read_json(out / RECORDS[kind], required_keys={"recipe": dict})
    except ValueError:
        return set()
    return {p.name for p in _present(out, kind) + _present(out, kind, added=True)}


def _not_ours(path: Path, files, listed: set[str]) -> str | None:
    """Why `path` (an entry of the layout, holding `files` if a folder) is not w2s's; None if it is."""
    if path.is_symlink():
        return "it is a symbolic link"
    if files is None and not path.is_file():
        return "it is not a file"
    if files is not None and not path.is_dir():
        return "it is not a folder"
    if files is not None:
        temps = tuple(f".{f}." for f in files)  # w2s.utils.io.atomic_path's temp files
        other = sorted(p.name for p in path.iterdir()
                       if p.is_symlink() or not p.is_file() or not (p.name in files or p.name.startswith(temps)))
        if other:
            return f"it holds {other[0]}, which w2s does not write there"
    return None if path.name in listed else f"{MANIFEST} does not list it"


def foreign(out, kind: str) -> tuple[Path, str] | None:
    """The first entry a `kind` run writes that is in `out` and is not w2s's, and why; None when all are."""
    out = Path(out)
    if not out.is_dir():
        return None
    listed = _listed(out, kind)
    for path in _present(out, kind):
        why = _not_ours(path, _layout_entry(kind, path.name), listed)
        if why:
            return path, why
    return None


def check_owned(out, kind: str) -> None:
    """Before any work: every entry a `kind` run writes into `out` that is already there is w2s's, of a
    `kind` run; else :class:`OutputError` naming it (the user's files are never removed or written into)."""
    found = foreign(out, kind)
    if found is None:
        return
    path, why = found
    m = _manifest(Path(out))
    if m is not None and m["kind"] != kind:
        raise OutputError(f"{out} holds a w2s {m['kind']} run ({Path(out) / MANIFEST}), not a {kind} run; "
                          "choose another output folder")  # fmt: skip
    raise OutputError(f"{path} was not written by w2s ({why}); w2s leaves what it did not write alone: "
                      "choose another output folder, or move it away")  # fmt: skip


def claim(out, kind: str, *names: str) -> None:
    """List in `out`'s manifest the entries a `kind` run writes (its layout's names, and `names`), before
    writing them; `out` is created if missing. Call :func:`check_owned` first."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    m = _manifest(out)
    old = [str(e) for e in m["entries"]] if m is not None and m["kind"] == kind else sorted(_listed(out, kind))
    new = [n for n in LAYOUTS[kind] if "*" not in n] + list(names)
    entries = sorted(set(old) | set(new))
    if m is None or m["kind"] != kind or sorted(m["entries"]) != entries:
        write_json(out / MANIFEST, {"kind": kind, "entries": entries,
                                    "note": "what w2s wrote into this folder; w2s removes only these"})  # fmt: skip


def claim_file(path) -> None:
    """A file just written into a w2s run folder (``w2s decoder eval``'s default output): listed in its
    manifest, so that ``--force`` may remove it later. Nothing for a folder without a manifest."""
    path = Path(path)
    m = _manifest(path.parent)
    if m is not None and path.name not in m["entries"]:
        claim(path.parent, m["kind"], path.name)


def remove_owned(out, kind: str) -> list[Path]:
    """``--force``: remove `kind`'s entries in `out`, only after :func:`check_owned` (so only w2s's:
    in a folder, only the files w2s writes there), and the files later commands added that the manifest
    lists (an eval-*.json of the user's stays). Returns what was removed."""
    out = Path(out)
    check_owned(out, kind)
    if not out.is_dir():
        return []
    listed = _listed(out, kind)
    added = [p for p in _present(out, kind, added=True) if _not_ours(p, None, listed) is None]
    gone = _present(out, kind) + added
    for path in gone:
        if path.is_dir():
            for p in path.iterdir():
                p.unlink()
            path.rmdir()
        else:
            path.unlink()
    return gone
