"""Where generated data and runs go.

`W2S_DATA_DIR` / `W2S_RUNS_DIR` override. Otherwise, in a source checkout (pyproject.toml beside the
package) they are `data/` and `runs/` at the repository root; for an installed package, ~/.cache/w2s.
A folder that cannot be made (the variable names a file, an impossible or read-only place) is an
:class:`OutputError` that names the variable and its value.
"""

from __future__ import annotations

import os
from pathlib import Path

from w2s.utils.io import OutputError

PACKAGE_DIR = Path(__file__).resolve().parents[1]
_CHECKOUT = PACKAGE_DIR.parent if (PACKAGE_DIR.parent / "pyproject.toml").is_file() else None
REPO_ROOT = _CHECKOUT  # None when installed from a wheel
NOTEBOOKS_DIR = _CHECKOUT / "notebooks" if _CHECKOUT else None


_DATA, _RUNS = "W2S_DATA_DIR", "W2S_RUNS_DIR"


def _chosen(variable: str, default: Path) -> tuple[Path, str]:
    """The folder `variable` names (else `default`), and how an error names it: "W2S_DATA_DIR (set to x)"."""
    env = os.environ.get(variable)
    return (Path(env), f"{variable} (set to {env})") if env else (default, f"{variable} (default {default})")


def _made(path: Path, where: str, writable: bool = False) -> Path:
    """`path` as a folder, made with its parents if missing; else OutputError naming `where` (the variable)."""
    if path.exists() and not path.is_dir():
        raise OutputError(f"{where}: {path} is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"{where}: cannot create {e.filename or path} ({e.strerror or e})") from None
    if writable and not os.access(path, os.W_OK):
        raise OutputError(f"{where}: {path} is not writable")
    return path


def data_dir() -> Path:
    path, where = _chosen(_DATA, _CHECKOUT / "data" if _CHECKOUT else Path.home() / ".cache" / "w2s")
    return _made(path, where)  # may be read-only: trained models are only read from it


def runs_dir() -> Path:
    path, where = _chosen(_RUNS, _CHECKOUT / "runs" if _CHECKOUT else Path.cwd() / "runs")
    return _made(path, where, writable=True)


def cache_dir(*parts: str) -> Path:
    root = data_dir()
    return _made(root.joinpath("cache", *parts), _chosen(_DATA, root)[1], writable=True)
