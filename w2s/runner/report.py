"""The run's report: `summary.json` and `report.md` in `runs/<timestamp>/`, rewritten after every notebook.

The report gives each notebook's metrics, then the run's results tables (the ones the README's blocks are
made from, :mod:`w2s.evaluation.readme`), then links to every figure and to each notebook's standalone HTML
and executed copy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from w2s.evaluation.readme import ReadmeError, run_tables
from w2s.evaluation.report import markdown_table
from w2s.utils.io import atomic_path, write_json

FIGURES = (".html", ".png", ".svg", ".jpg", ".gif", ".mp4", ".webm")  # what a notebook's folder shows


@dataclass
class NotebookResult:
    """One executed notebook, as the report gives it."""

    name: str
    path: Path  # executed copy
    out_dir: Path
    seconds: float
    metrics: dict = field(default_factory=dict)
    html: Path | None = None  # standalone HTML of the executed copy
    parameters: dict = field(default_factory=dict)


def figures_of(out_dir: Path, notebook: str) -> list[Path]:
    """What a notebook wrote to look at (figure HTML, images, videos), in the order written."""
    if not out_dir.is_dir():
        return []
    found = [
        p for p in out_dir.iterdir() if p.suffix.lower() in FIGURES and p.is_file() and p.stem != notebook
    ]
    return sorted(found, key=lambda p: (p.stat().st_mtime, p.name))


def _link(text: str, path: Path, run: Path) -> str:
    return f"[{text}]({quote(path.relative_to(run).as_posix())})"


def write_report(run: Path, results: list[NotebookResult], params: dict, mode: str = "full",
                 failure: str | None = None) -> Path:  # fmt: skip
    """summary.json and report.md of the run so far (called after every notebook)."""
    figures = {r.name: figures_of(r.out_dir, r.name) for r in results}
    summary = {
        "parameters": params,
        "mode": mode,
        "notebooks": [
            {"name": r.name, "seconds": round(r.seconds, 1), "executed": r.path.relative_to(run).as_posix(),
             "html": r.html.relative_to(run).as_posix() if r.html else None, "parameters": r.parameters,
             "figures": [p.relative_to(run).as_posix() for p in figures[r.name]], "metrics": r.metrics}
            for r in results
        ],
    }  # fmt: skip
    if failure:
        summary["failed"] = failure
    write_json(run / "summary.json", summary)

    total = sum(r.seconds for r in results)
    lines = [f"# w2s results — {run.name}", "",
             f"Mode: {mode} · parameters: `{json.dumps(params)}` · {len(results)} notebook(s), {total / 60:.1f} min", ""]  # fmt: skip
    if failure:
        lines += [f"**The run stopped: {failure}**", ""]
    for r in results:
        lines += [f"## {r.name} ({r.seconds:.0f} s)", ""]
        lines += ["| metric | value |", "|---|---|"]
        lines += [
            f"| {k} | {_fmt(v)} |"
            for k, v in _flatten(r.metrics).items()
            if not k.startswith("results_tables")
        ]
        lines.append("")
    lines += _results_section({r.name: {"metrics": r.metrics, "seconds": r.seconds} for r in results})
    lines += ["## Figures", ""]
    for r in results:
        shown = " · ".join(_link(p.stem if p.suffix == ".html" else p.name, p, run) for p in figures[r.name])
        lines += [f"- **{r.name}**: {shown or 'none'}"]
    lines += [
        "",
        "## Notebooks",
        "",
        "Standalone HTML (figures included, work offline) and the executed notebooks:",
        "",
    ]
    rows = [[r.name, f"{r.seconds / 60:.1f}", _link(f"{r.name}.html", r.html, run) if r.html else "",
             _link(r.path.name, r.path, run)] for r in results]  # fmt: skip
    lines += [markdown_table(rows, ["notebook", "minutes", "HTML", "executed notebook"]), ""]
    report = run / "report.md"
    with atomic_path(report) as tmp:
        Path(tmp).write_text("\n".join(lines), encoding="utf-8")
    return report


def _results_section(run: dict) -> list[str]:
    try:
        tables, missing = run_tables(run)
    except ReadmeError as e:  # a notebook's results_tables is malformed: say so, keep the rest of the report
        return ["## Results", "", f"(results tables not made: {e})", ""]
    lines = ["## Results", ""]
    for _, title, table in tables:
        lines += [f"### {title}", "", table, ""]
    absent = [m for m in missing if "run it first" not in m]  # notebooks not in this run are not news
    if absent:
        lines += ["Not made: " + "; ".join(absent), ""]
    return lines


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, list) and len(v) > 8:
        return f"[{len(v)} values]"
    return str(v)
