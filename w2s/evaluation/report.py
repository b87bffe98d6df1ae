"""What notebooks write and show: metrics.json, resolved parameters, markdown tables."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from w2s.utils.io import write_json


def _plain(x):
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, np.ndarray):
        return _plain(x.tolist())
    if isinstance(x, np.generic):
        return _plain(x.item())
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def save_metrics(out_dir, metrics: dict, name: str = "metrics.json") -> Path:
    """Write metrics as JSON (numpy values converted, NaN as null) into out_dir."""
    path = Path(out_dir) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, _plain(metrics))
    return path


def markdown_table(rows: list[dict] | list[list], headers: list[str] | None = None, floatfmt: str = ".3f") -> str:
    """A GitHub-style markdown table; display it with IPython.display.Markdown."""
    if rows and isinstance(rows[0], dict):
        headers = headers or list(rows[0])
        rows = [[r.get(h, "") for h in headers] for r in rows]
    headers = headers or []

    def cell(v):
        if isinstance(v, float):
            return format(v, floatfmt)
        if isinstance(v, (list, tuple)):
            return " ".join(map(str, v))
        return str(v).replace("|", "\\|")

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)
