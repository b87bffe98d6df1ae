"""Where generated data and runs go.

`W2S_DATA_DIR` / `W2S_RUNS_DIR` override. Otherwise, in a source checkout (pyproject.toml beside the
package) they are `data/` and `runs/` at the repository root; for an installed package, ~/.cache/w2s.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1]
_CHECKOUT = PACKAGE_DIR.parent if (PACKAGE_DIR.parent / "pyproject.toml").is_file() else None
REPO_ROOT = _CHECKOUT  # None when installed from a wheel
NOTEBOOKS_DIR = _CHECKOUT / "notebooks" if _CHECKOUT else None


def data_dir() -> Path:
    env = os.environ.get("W2S_DATA_DIR")
    path = Path(env) if env else (_CHECKOUT / "data" if _CHECKOUT else Path.home() / ".cache" / "w2s")
    path.mkdir(parents=True, exist_ok=True)
    return path


def runs_dir() -> Path:
    env = os.environ.get("W2S_RUNS_DIR")
    path = Path(env) if env else (_CHECKOUT / "runs" if _CHECKOUT else Path.cwd() / "runs")
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_dir(*parts: str) -> Path:
    path = data_dir().joinpath("cache", *parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
