"""What notebooks write and show: metrics.json, markdown tables, and the results tables of a run.

A notebook's headline tables go into its metrics.json under ``results_tables`` (built with
:func:`results_table`); the run's report.md and the README's marked blocks are generated from them
(`w2s.evaluation.readme` documents the convention).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

from w2s.utils.io import json_safe, write_json


def save_metrics(out_dir, metrics: dict, name: str = "metrics.json") -> Path:
    """Write metrics as JSON (numpy values converted, NaN as null) into out_dir."""
    path = Path(out_dir) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, metrics)
    return path


def markdown_table(
    rows: list[dict] | list[list], headers: list[str] | None = None, floatfmt: str = ".3f"
) -> str:
    """A GitHub-style markdown table; display it with IPython.display.Markdown."""
    if rows and isinstance(rows[0], dict):
        headers = headers or list(rows[0])
        rows = [[r.get(h, "") for h in headers] for r in rows]
    headers = headers or []

    def cell(v):
        if v is None:
            return ""
        if isinstance(v, float):
            return format(v, floatfmt)
        if isinstance(v, (list, tuple)):
            return " ".join(map(str, v))
        return str(v).replace("|", "\\|")

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


RESULTS_KEY = "results_tables"  # metrics.json key: {name: results_table(...)}
TABLE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")  # also the README block's name: <!-- w2s:NAME -->


def check_results_table(spec, where: str = "results table") -> None:
    """Raise ValueError naming `where` and the field unless `spec` is a results table (see :func:`results_table`)."""
    if not isinstance(spec, dict):
        raise ValueError(f"{where}: expected a dict with title, headers and rows, got {type(spec).__name__}")
    for key in ("title", "headers", "rows"):
        if key not in spec:
            raise ValueError(f"{where}: missing key {key!r}")
    if not isinstance(spec["title"], str) or not spec["title"].strip():
        raise ValueError(f"{where}: 'title' must be a non-empty string")
    headers = spec["headers"]
    if not isinstance(headers, list) or not headers or not all(isinstance(h, str) for h in headers):
        raise ValueError(f"{where}: 'headers' must be a non-empty list of strings")
    if not isinstance(spec["rows"], list):
        raise ValueError(f"{where}: 'rows' must be a list of rows")
    for i, row in enumerate(spec["rows"]):
        if not isinstance(row, list) or len(row) != len(headers):
            raise ValueError(
                f"{where}: row {i} must be a list of {len(headers)} cells (one per header), got {row!r}"
            )
        bad = [c for c in row if c is not None and not isinstance(c, (str, int, float))]
        if bad:
            raise ValueError(f"{where}: row {i} has a cell that is not a number, string or null: {bad[0]!r}")
        if any(isinstance(c, float) and not math.isfinite(c) for c in row):
            raise ValueError(f"{where}: row {i} has a NaN or infinite cell (null is an empty cell): {row!r}")
    for key in ("note", "floatfmt"):
        if key in spec and not isinstance(spec[key], str):
            raise ValueError(f"{where}: {key!r} must be a string")
    extra = set(spec) - {"title", "headers", "rows", "note", "floatfmt"}
    if extra:
        raise ValueError(f"{where}: unknown keys {sorted(extra)}")


def results_table(rows: list[list] | list[dict], headers: list[str], title: str, note: str | None = None,
                  floatfmt: str = ".3f") -> dict:  # fmt: skip
    """A results table for metrics.json's ``results_tables`` (report.md and the README render it).

    `rows` are lists of cells in `headers` order, or dicts keyed by header; a cell is a number, a
    string (printed as it is, e.g. "0.12 ± 0.03") or None (empty). Numpy values are converted.
    """
    headers = [str(h) for h in headers]
    rows = [[r.get(h) for h in headers] if isinstance(r, dict) else list(r) for r in rows]
    spec = json_safe({"title": title, "headers": headers, "rows": rows, "floatfmt": floatfmt})
    if note:
        spec["note"] = str(note)
    check_results_table(spec)
    return spec


_LEVER_FIELDS = ("loss", "infonce_weight", "negatives", "ctc_weight", "pooling", "center_targets", "init_from")


def lever_rows(path) -> list[dict]:
    """The rows of a Wav2Sem lever sweep (``benchmarks/wav2sem_levers.py`` appends one JSON line per
    training) as table rows: what changed, the split and held-out retrieval on it, the near-pair ABX error without -> with
    the plug, and the training minutes (wall, and CPU where measured) at the threads and load it ran under.
    A missing file gives no rows."""
    path = Path(path)
    if not path.is_file():
        return []
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            r = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}, line {n}: not JSON ({e})") from e
        levers = ", ".join(f"{k}={r[k]}" for k in _LEVER_FIELDS if k in r)
        rows.append({
            "row": f"{r['name']}: {r.get('config', 'tiny')}, {r['n_speech']} utt., {r['steps']} steps"
                   + (f", {levers}" if levers else ""),
            "split": r.get("split", "test"),  # what R@1 was read on (the rows before 2026-12-06 read test)
            "R@1": r["r@1"], "R@5": r["r@5"], "median rank": r["median_rank"], "cosine": r["cosine_to_target"],
            "near ABX without → with": f"{r['abx_near_without']:.3f} → {r['abx_near']:.3f}",
            "train min": r["train_minutes"], "CPU min": r.get("cpu_minutes"), "threads": r.get("threads"),
            "load": r.get("load_average"),
        })  # fmt: skip
    return rows
