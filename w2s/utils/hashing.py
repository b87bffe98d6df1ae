"""Content hashes: of a state dict, of a config, of a folder, of any JSON-able key."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path


def sha256_tensors(state: dict) -> str:
    """Hash of a state dict: names, dtypes, shapes and bytes."""
    import torch

    h = hashlib.sha256()
    for k in sorted(state):
        t = state[k].detach().cpu().contiguous()
        h.update(f"{k}|{t.dtype}|{tuple(t.shape)}\0".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def stable_json(d: dict) -> str:
    """A config dict as canonical JSON, without fields that name the file or the library version."""
    d = {k: v for k, v in d.items() if not k.startswith("_") and k not in ("transformers_version", "name_or_path")}
    return json.dumps(d, sort_keys=True, default=str)


def key_of(obj, n: int = 16) -> str:
    """A short cache key for any JSON-able object (sorted keys; non-JSON values by str)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:n]


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def tree_sha256(root, skip: str) -> str:
    """One hash over every file's relative path and bytes under root (except files named `skip`)."""
    root = Path(root)
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.name != skip:
            h.update(p.relative_to(root).as_posix().encode() + b"\0")
            h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()
