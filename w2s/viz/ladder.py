"""Figures of notebook 05's ladder: a metric against masking level, one line per rung, per host; and each
cell's val-loss learning curve. Inputs: :func:`w2s.evaluation.ladder.ladder_rows` and ``curve_rows``."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

RUNG_COLORS = {"none": "#7f7f7f", "oracle_text": "#2ca02c", "wav2sem": "#1f77b4", "oracle_text_local": "#9467bd",
               "wav2sem_local": "#17becf", "oracle_viseme": "#d62728", "oracle_word": "#ff7f0e"}  # fmt: skip
TITLES = {"minimal_pair_accuracy": "minimal-pair lip accuracy over the masked words (chance 0.5)",
          "homophone_lve": "homophone-LVE × 1e-5 (lower is better)", "lve": "LVE × 1e-5 (lower is better)"}  # fmt: skip


def ladder_figure(rows: Sequence[dict], metric: str = "minimal_pair_accuracy") -> go.Figure:
    """One panel per host: `metric` (mean over seeds) at each masking level, a line per rung, with its 95 %
    interval (seeds and units crossed) as error bars."""
    rows = [r for r in rows if r["metric"] == metric]
    hosts = list(dict.fromkeys(r["host"] for r in rows))
    levels = list(dict.fromkeys(r["level"] for r in rows))
    scale = 1.0 if metric == "minimal_pair_accuracy" else 1e5
    fig = make_subplots(rows=1, cols=len(hosts), subplot_titles=hosts, shared_yaxes=True)
    for col, host in enumerate(hosts, 1):
        for rung in dict.fromkeys(r["rung"] for r in rows if r["host"] == host):
            by = {r["level"]: r for r in rows if r["host"] == host and r["rung"] == rung}
            y = [by[lv]["mean"] * scale if lv in by else None for lv in levels]
            hi = [(by[lv]["high"] - by[lv]["mean"]) * scale if lv in by else None for lv in levels]
            lo = [(by[lv]["mean"] - by[lv]["low"]) * scale if lv in by else None for lv in levels]
            fig.add_trace(go.Scatter(x=levels, y=y, mode="lines+markers", name=rung, legendgroup=rung,
                                     showlegend=col == 1, line_color=RUNG_COLORS.get(rung),
                                     error_y=dict(type="data", array=hi, arrayminus=lo, visible=True)),
                          row=1, col=col)  # fmt: skip
        if metric == "minimal_pair_accuracy":
            fig.add_hline(y=0.5, line_dash="dot", line_color="black", row=1, col=col)
    fig.update_xaxes(title_text="masking of the deciding phoneme")
    seeds = max((r["seeds"] for r in rows), default=0)
    return fig.update_layout(height=420, title=f"{TITLES.get(metric, metric)}; mean over {seeds} seed(s), 95 % interval")


def curves_figure(curves: Sequence[dict], level: str | None = None) -> go.Figure:
    """The val loss against training step of every cell at `level` (default: the last level), a panel per
    host, a line per rung and seed: where the curves flatten is the knee."""
    level = level or (curves[-1]["level"] if curves else "")
    curves = [c for c in curves if c["level"] == level]
    hosts = list(dict.fromkeys(c["host"] for c in curves))
    fig = make_subplots(rows=1, cols=max(1, len(hosts)), subplot_titles=hosts)
    for col, host in enumerate(hosts, 1):
        for c in (c for c in curves if c["host"] == host):
            fig.add_trace(go.Scatter(x=c["steps"], y=c["val_loss"], mode="lines", name=c["rung"], legendgroup=c["rung"],
                                     showlegend=col == 1 and c["seed"] == min(x["seed"] for x in curves),
                                     line_color=RUNG_COLORS.get(c["rung"]), opacity=0.8), row=1, col=col)  # fmt: skip
    fig.update_xaxes(title_text="training step")
    return fig.update_layout(height=380, title=f"val loss during training (masking {level}): the learning curves")
