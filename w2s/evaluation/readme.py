"""The README's results, generated from a run's metrics (never typed by hand).

    w2s readme runs/20261202-050152              # rewrites README.md's marked blocks in place

Each block sits between ``<!-- w2s:NAME -->`` and ``<!-- /w2s:NAME -->`` in the README; everything
outside the markers is left as it is. Every marked block is rewritten, and a block the run cannot
fill (its notebook is missing from the run, or no notebook wrote that table) is an error, so a
README is never half updated. The run's ``report.md`` ends with the same tables (:func:`run_tables`).

Where a table comes from:

- built in (:data:`BLOCKS`): ``coupling`` (notebook 01), ``wav2sem`` and ``plug`` (notebook 02),
  ``timing`` (every notebook's minutes);
- **any notebook's own tables**: a notebook that puts a ``results_tables`` key into its
  ``metrics.json`` fills the block of each name in it. The convention, made by
  :func:`w2s.evaluation.report.results_table`::

      save_metrics(OUT_DIR, {..., "results_tables": {
          "grid": results_table(rows, headers=["host", "semantic", "LVE (mm)", "p vs none"],
                                title="Hosts x F_s on unseen speakers, mean ± std over 3 seeds",
                                note="p: Wilcoxon signed-rank, paired by clip and seed")}})

  i.e. ``{NAME: {"title": str, "headers": [str, ...], "rows": [[cell, ...], ...],
  "note": str (optional), "floatfmt": ".3f" (optional)}}``, NAME made of ``a-z 0-9 _ -``; a cell is a
  number (floats formatted with floatfmt), a string (printed as it is, e.g. ``"0.12 ± 0.03"``) or null
  (empty); NaN or inf is an error, here and in the metrics the built-in blocks read (where those expect
  a number, text is an error too, naming the notebook and the field). ``<!-- w2s:grid -->`` in the
  README then receives that table (and its note). A name may be written by one notebook only and may
  not shadow a built-in block.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from pathlib import Path

from w2s.corpus.pairs import GROUPS
from w2s.evaluation.report import RESULTS_KEY, TABLE_NAME, check_results_table, markdown_table
from w2s.utils.io import atomic_path


class ReadmeError(ValueError):
    """A run or README that cannot be used; the message names the file and the problem."""


def load_run(run_dir) -> dict:
    """{notebook name: {"metrics": ..., "seconds": ...}} from a run folder's summary.json."""
    path = Path(run_dir) / "summary.json"
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
        return {nb["name"]: nb for nb in summary["notebooks"]}
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as e:
        raise ReadmeError(
            f"{path}: not a run summary written by `w2s notebooks` ({type(e).__name__}: {e})"
        ) from e


def _metrics(run: dict, name: str) -> tuple[dict, Callable[..., float]]:
    """A notebook's metrics, and `num(*keys, empty_ok=False)`: the metric at that path, a finite number (or
    null, an empty cell, with empty_ok); else ReadmeError naming the notebook and the field: a string, NaN
    or inf is not put into a table."""
    if name not in run:
        raise ReadmeError(f"the run has no {name} notebook; run it first (w2s notebooks --only {name[:2]})")
    m = run[name]["metrics"]

    def num(*keys, empty_ok: bool = False) -> float | None:
        value = m
        for k in keys:
            value = value[k]
        if value is None and empty_ok:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            field = ".".join(map(str, keys))
            raise ReadmeError(f"{name}'s metrics: {field} is {json.dumps(value)[:40]}, not a finite number")
        return value

    return m, num


def coupling_table(run: dict) -> str:
    m, num = _metrics(run, "01_homophone_coupling")
    rows = [
        [enc, num("probe_accuracy", enc, empty_ok=True), *(num("abx_error", enc, g, empty_ok=True) for g in GROUPS),
         " / ".join(f"{num('normalised_distance', enc, g):.2f}" for g in GROUPS)]
        for enc in m["encoders"]
    ]  # fmt: skip
    headers = ["encoder", f"probe accuracy (chance {num('probe_chance'):.3f})", "ABX near", "ABX same viseme",
               "ABX far", "norm. dist. near / same / far"]  # fmt: skip
    return markdown_table(rows, headers)


def wav2sem_table(run: dict) -> str:
    m, num = _metrics(run, "02_train_wav2sem")
    rows = []
    for name in m["heldout"]:
        spread = "1 seed"
        if name == "lite" and m.get("lite_seeds"):
            r1 = [num("lite_seeds", i, "r@1") for i in range(len(m["lite_seeds"]))]
            spread = f"{sum(r1) / len(r1):.3f} ({min(r1):.3f}–{max(r1):.3f}), {len(r1)} seeds"
        r = {k: num("heldout", name, k, empty_ok=k in ("r@5", "cosine_to_target"))
             for k in ("r@1", "chance_r@1", "r@5", "median_rank", "cosine_to_target")}
        rows.append([name, f"{num('parameters', name) / 1e6:.1f} M", f"{num('train_minutes', name):.1f}",
                     f"{r['r@1']:.3f} (chance {r['chance_r@1']:.3f})", spread, r["r@5"], f"{r['median_rank']:.1f}",
                     r["cosine_to_target"]])  # fmt: skip
    headers = ["model", "parameters", "training minutes", "held-out R@1 (seed 0)", "R@1 mean (range) over seeds", "R@5",
               "median rank", "cosine to target"]  # fmt: skip
    return markdown_table(rows, headers)


def plug_table(run: dict) -> str:
    m, num = _metrics(run, "02_train_wav2sem")
    rows = [[name, num("abx_near", name, empty_ok=True), num("abx_far", name, empty_ok=True)] for name in m["abx_near"]]
    return markdown_table(rows, ["frame features", "ABX near", "ABX far"])


def timing_table(run: dict) -> str:
    rows = [[name, f"{nb['seconds'] / 60:.1f}"] for name, nb in run.items()]
    rows.append(["all", f"{sum(nb['seconds'] for nb in run.values()) / 60:.1f}"])
    return markdown_table(rows, ["notebook", "minutes"])


BLOCKS: dict[str, Callable[[dict], str]] = {
    "coupling": coupling_table, "wav2sem": wav2sem_table, "plug": plug_table, "timing": timing_table,
}  # fmt: skip
TITLES = {
    "coupling": "Coupling of near-homophones in speech encoders (notebook 01)",
    "wav2sem": "Wav2Sem: held-out retrieval (notebook 02)",
    "plug": "The plug: ABX error with F_s added to tiny HuBERT's frames (notebook 02)",
    "timing": "Minutes per notebook",
}


def _builtin(run: dict, name: str) -> str:
    try:
        return BLOCKS[name](run)
    except (KeyError, TypeError, ZeroDivisionError) as e:
        raise ReadmeError(
            f"results block {name!r}: the run's metrics lack what it needs ({type(e).__name__}: {e})"
        ) from e


def notebook_tables(run: dict) -> dict[str, tuple[str, str, str]]:
    """{name: (notebook, title, markdown)} for every table the run's notebooks wrote under `results_tables`."""
    found: dict[str, tuple[str, str, str]] = {}
    for nb_name, nb in run.items():
        tables = (nb.get("metrics") or {}).get(RESULTS_KEY) or {}
        if not isinstance(tables, dict):
            raise ReadmeError(f"{nb_name}: metrics.json's {RESULTS_KEY!r} must map table names to tables")
        for name, spec in tables.items():
            where = f"{nb_name}: metrics.json {RESULTS_KEY}.{name}"
            if not isinstance(name, str) or not TABLE_NAME.match(name):
                raise ReadmeError(f"{where}: table names are lower-case letters, digits, '_' and '-'")
            if name in BLOCKS:
                raise ReadmeError(f"{where}: {name!r} is a built-in block; choose another name")
            if name in found:
                raise ReadmeError(f"{where}: table {name!r} is also written by {found[name][0]}")
            try:
                check_results_table(spec, where)
            except ValueError as e:
                raise ReadmeError(str(e)) from e
            table = markdown_table(spec["rows"], spec["headers"], spec.get("floatfmt", ".3f"))
            if spec.get("note"):
                table += f"\n\n{spec['note']}"
            found[name] = (nb_name, spec["title"], table)
    return found


def table(run: dict, name: str) -> str:
    """The markdown of block `name` (built in, or a notebook's own); ReadmeError if the run cannot fill it."""
    if name in BLOCKS:
        return _builtin(run, name)
    tables = notebook_tables(run)
    if name not in tables:
        written = ", ".join(tables) or "none"
        raise ReadmeError(f"no results table {name!r} in the run (built in: {', '.join(BLOCKS)}; "
                          f"written by its notebooks: {written})")  # fmt: skip
    return tables[name][2]


def run_tables(run: dict) -> tuple[list[tuple[str, str, str]], list[str]]:
    """Every table this run can fill, for its report: ([(name, title, markdown)], [why a built-in one is missing])."""
    tables, missing = [], []
    for name in BLOCKS:
        try:
            tables.append((name, TITLES[name], _builtin(run, name)))
        except ReadmeError as e:
            missing.append(f"{name}: {e}")
    tables += [(name, title, md) for name, (_, title, md) in notebook_tables(run).items()]
    tables.sort(key=lambda t: t[0] == "timing")  # the timing table last
    return tables, missing


_BLOCK = re.compile(r"<!-- w2s:([\w-]+) -->\n")


def update_readme(readme, run_dir, only: list[str] | None = None) -> list[str]:
    """Rewrite every marked block of `readme` (or the blocks named in `only`: a run of some notebooks, e.g.
    notebook 05 with more seeds) from the run's metrics; returns the block names rewritten. All or none."""
    readme = Path(readme)
    try:
        text = readme.read_text(encoding="utf-8")
    except OSError as e:
        raise ReadmeError(f"cannot read {readme}: {e}") from e
    run = load_run(run_dir)
    names = list(dict.fromkeys(_BLOCK.findall(text)))
    if not names:
        raise ReadmeError(f"{readme} has no <!-- w2s:NAME --> blocks (built-in names: {', '.join(BLOCKS)})")
    if only:
        absent = [n for n in only if n not in names]
        if absent:
            raise ReadmeError(f"{readme} has no block {absent[0]!r} (its blocks: {', '.join(names)})")
        names = list(dict.fromkeys(only))
    source = f"<!-- generated by `w2s readme {Path(run_dir).name}` -->\n"
    for name in names:
        pattern = re.compile(rf"(<!-- w2s:{re.escape(name)} -->\n).*?(<!-- /w2s:{re.escape(name)} -->)", re.S)
        found = pattern.search(text)
        if not found:
            raise ReadmeError(f"{readme}: block {name!r} has no closing <!-- /w2s:{name} --> marker")
        try:
            block = found.group(1) + source + table(run, name) + "\n" + found.group(2)
        except ReadmeError as e:
            raise ReadmeError(f"{readme}: block {name!r} from {Path(run_dir) / 'summary.json'}: {e}") from e
        text = text[: found.start()] + block + text[found.end() :]
    with atomic_path(readme) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")
    return names
