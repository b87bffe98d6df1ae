"""Figures of the grid (notebooks 03-04): per-host bars with error bars, the homophone panels, loss curves.

Inputs are the rows of :func:`w2s.evaluation.grid.summary_rows` (``{metric}`` and ``{metric}_std`` per host
and condition) and the cell results of :func:`w2s.evaluation.grid.run_grid`.
"""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

CONDITION_COLORS = {"none": "#7f7f7f", "wav2sem": "#1f77b4", "oracle_text": "#2ca02c"}


def _bars(summary: Sequence[dict], metric: str, scale: float, showlegend: bool = True) -> list[go.Bar]:
    hosts = list(dict.fromkeys(r["host"] for r in summary))
    out = []
    for sem in dict.fromkeys(r["semantic"] for r in summary):
        rows = {r["host"]: r for r in summary if r["semantic"] == sem}
        y = [rows[h][metric] * scale if h in rows else None for h in hosts]
        err = [rows[h][f"{metric}_std"] * scale if h in rows else None for h in hosts]
        out.append(go.Bar(name=sem, x=hosts, y=y, error_y=dict(type="data", array=err, visible=True),
                          marker_color=CONDITION_COLORS.get(sem), legendgroup=sem, showlegend=showlegend))  # fmt: skip
    return out


def metric_bars(summary: Sequence[dict], metric: str = "lve", scale: float = 1e5, title: str | None = None,
                yaxis_title: str | None = None) -> go.Figure:  # fmt: skip
    """One bar group per host, a bar per condition: the metric's mean over seeds, ± its std over seeds."""
    fig = go.Figure(_bars(summary, metric, scale))
    return fig.update_layout(barmode="group", height=380, title=title or f"{metric} (mean ± std over seeds)",
                             yaxis_title=yaxis_title or (f"{metric} × {1 / scale:g}" if scale != 1 else metric))  # fmt: skip


def homophone_panels(summary: Sequence[dict]) -> go.Figure:
    """Two panels: homophone-LVE (lower is better) and minimal-pair lip accuracy (higher; chance 0.5)."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("homophone-LVE × 1e-5 (lower is better)",
                                                        "minimal-pair lip accuracy (chance 0.5)"))  # fmt: skip
    for b in _bars(summary, "homophone_lve", 1e5):
        fig.add_trace(b, row=1, col=1)
    for b in _bars(summary, "minimal_pair_accuracy", 1.0, showlegend=False):
        fig.add_trace(b, row=1, col=2)
    fig.add_hline(y=0.5, line_dash="dot", line_color="black", row=1, col=2)
    return fig.update_layout(barmode="group", height=400, title="Near-homophones: did the lips tell the pair apart?")


def loss_curves(results: Sequence[dict], title: str = "training loss, seed 0") -> go.Figure:
    """One panel per host, a line per condition: the training loss over steps (each host's own loss)."""
    hosts = list(dict.fromkeys(r["host"] for r in results))
    cols = min(3, len(hosts))
    rows = (len(hosts) + cols - 1) // cols
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=hosts)
    for i, host in enumerate(hosts):
        for r in (r for r in results if r["host"] == host):
            fig.add_trace(go.Scatter(x=r["history"]["step"], y=r["history"]["loss"], name=r["semantic"],
                                     line=dict(color=CONDITION_COLORS.get(r["semantic"])), legendgroup=r["semantic"],
                                     showlegend=i == 0), row=i // cols + 1, col=i % cols + 1)  # fmt: skip
    fig.update_yaxes(type="log")
    return fig.update_layout(title=title, height=300 * rows)
