"""Notebook 04's explorer: pick a host, an F_s source, a seed and a near-homophone word; see the lips, hear the clip.

    ex = LipExplorer(plan)            # plan: the grid's GridPlan (its trained cells)
    ex.show(out_dir)                  # live: the widget; executed by the runner: the static figure of one choice
    ex.host.value = "faceformer"      # the dropdowns (host, semantic, seed, word) are ordinary ipywidgets
    ex.figure, ex.current             # the figure shown and its WordLips (w2s.evaluation.word_lips)

The figure (:func:`word_figure`) has two panels over the word and :data:`~w2s.evaluation.word_lips.CONTEXT_S`
of sentence on each side. Top: the lip aperture (mm; mean upper-lip minus mean lower-lip height, as notebook
00's) of the truth, the cell's prediction and the partner word, the partner being minimal-pair accuracy's
counterfactual (the corpus rig's face with the partner's phoneme, over the word's frames only). Bottom: per
word frame, the prediction's mean lip-vertex distance to the truth and to the partner: the word counts as
right when the first curve's mean is the lower (:func:`w2s.evaluation.minimal_pairs.score`, in the title).

A notebook exported to HTML keeps no kernel, and a widget without one shows nothing there: when the figures
are not :func:`~w2s.viz.display.interactive` (the notebook runner), :meth:`LipExplorer.show` puts the static
figure of the current choice and the clip's audio into the notebook instead of the widget.
"""

from __future__ import annotations

import json

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots

from w2s.evaluation.word_lips import WordLips, WordLipsSource
from w2s.viz.display import interactive
from w2s.viz.display import show as show_figure
from w2s.viz.plug import aperture_mm, lip_rows

COLORS = {"truth": "black", "prediction": "#1f77b4", "partner": "#d62728"}
VERDICT = {1.0: "right", 0.0: "wrong", 0.5: "a tie"}


def word_figure(w: WordLips, upper, lower) -> go.Figure:
    """Two panels of one cell over one pair word (see the module docstring); traces in this order: truth,
    prediction, partner (lip aperture, mm), then the prediction's distance to the truth and to the partner (mm)."""
    upper, lower = np.asarray(upper, dtype=np.int64), np.asarray(lower, dtype=np.int64)
    if not (np.isin(upper, w.lips).all() and np.isin(lower, w.lips).all()):
        raise ValueError("word_figure: the upper and lower lip vertices must be lip vertices (the counterfactual "
                         "changes only those)")  # fmt: skip
    s, word = w.score, w.word
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08, row_heights=[0.62, 0.38],
                        subplot_titles=("lip aperture", "prediction's mean lip-vertex distance, over the word"))  # fmt: skip
    curves = (("truth", f"truth: {word.word}", w.times, w.truth, dict(color=COLORS["truth"], width=3)),
              ("prediction", f"prediction ({w.host}, {w.semantic}, seed {w.seed})", w.times, w.prediction,
               dict(color=COLORS["prediction"], width=2)),
              ("partner", f"partner: {word.partner}", w.word_times, w.partner,
               dict(color=COLORS["partner"], width=2, dash="dash")))  # fmt: skip
    for key, name, x, seq, line in curves:
        fig.add_trace(go.Scatter(x=x, y=aperture_mm(seq, upper, lower), name=name, mode="lines", line=line,
                                 legendgroup=key, meta=key), row=1, col=1)  # fmt: skip
    d = w.lip_distances()
    for key, name in (("truth", f"to the truth ({word.word})"), ("partner", f"to the partner ({word.partner})")):
        fig.add_trace(go.Scatter(x=w.word_times, y=d[key] * 1000, name=name, mode="lines+markers",
                                 line=dict(color=COLORS[key], width=1.5), legendgroup=key, meta=f"to {key}"),
                      row=2, col=1)  # fmt: skip
    half = 0.5 / w.fps  # a frame's extent: the shaded span covers the word's frames
    fig.add_vrect(x0=float(w.word_times[0]) - half, x1=float(w.word_times[-1]) + half, fillcolor="#f4d35e",
                  opacity=0.25, line_width=0, row="all", col=1)  # fmt: skip
    title = (f"'{word.word}' (partner '{word.partner}') in {word.stem}: {w.host} + {w.semantic}, seed {w.seed}, "
             f"identity {w.condition}<br><sup>prediction {1000 * s['d_true']:.2f} mm from the word's lips, "
             f"{1000 * s['d_partner']:.2f} mm from the partner's (the two words {1000 * s['separation']:.2f} mm "
             f"apart): {VERDICT.get(s['score'], s['score'])}</sup>")  # fmt: skip
    fig.update_layout(title=title, height=520, margin=dict(t=90), legend=dict(orientation="h", y=-0.12))
    fig.update_yaxes(title_text="mm", row=1, col=1).update_yaxes(title_text="mm", row=2, col=1)
    return fig.update_xaxes(title_text="s", row=2, col=1)


class LipExplorer:
    """A choice of (host, F_s source, seed, pair word), its figure, and the widgets that change it.

    `host`, `semantic`, `seed`, `word` (an index into ``source.words``): the first choice (default: the
    plan's first host, ``wav2sem`` when the plan has it, its first seed, the first word). The widgets (the
    dropdowns :attr:`host`, :attr:`semantic`, :attr:`seed`, :attr:`word`, then :attr:`status`,
    :attr:`output` with the figure and :attr:`audio` with the clip, all in :attr:`widget`) are made on first
    use, so that an executed notebook that shows only the static figure carries no widget state. Every change
    of a dropdown redraws; a cell that is not trained says so instead of a figure."""

    def __init__(self, plan, host: str | None = None, semantic: str | None = None, seed: int | None = None,
                 word: int = 0, source: WordLipsSource | None = None):  # fmt: skip
        self.source = source or WordLipsSource(plan)
        self.plan = plan
        self.upper, self.lower = lip_rows(plan.corpus_root)
        self.choice = {"host": host or plan.hosts[0],
                       "semantic": semantic or ("wav2sem" if "wav2sem" in plan.semantics else plan.semantics[0]),
                       "seed": plan.seeds[0] if seed is None else seed, "word": word}  # fmt: skip
        self.current: WordLips | None = None  # the choice's data and figure (None: its cell is not trained)
        self.figure: go.Figure | None = None
        self.note = ""  # what the status line says
        self._ui: dict | None = None
        self._check(self.choice)
        self._draw()

    # the widgets, made on first use ------------------------------------------------------------

    def _controls(self) -> dict:
        if self._ui is None:
            p, c = self.plan, self.choice
            words = [(w.label, i) for i, w in enumerate(self.source.words)]
            ui = {"host": widgets.Dropdown(options=list(p.hosts), value=c["host"], description="host"),
                  "semantic": widgets.Dropdown(options=list(p.semantics), value=c["semantic"], description="F_s"),
                  "seed": widgets.Dropdown(options=list(p.seeds), value=c["seed"], description="seed"),
                  "word": widgets.Dropdown(options=words, value=c["word"], description="word",
                                           layout=widgets.Layout(width="34em")),
                  "status": widgets.HTML(), "output": widgets.Output(),
                  "audio": widgets.Audio(format="wav", autoplay=False, loop=False)}  # fmt: skip
            ui["widget"] = widgets.VBox([widgets.HBox([ui["host"], ui["semantic"], ui["seed"]]), ui["word"],
                                         ui["status"], ui["output"], ui["audio"]])  # fmt: skip
            for name in ("host", "semantic", "seed", "word"):
                ui[name].observe(lambda change, name=name: self.select(**{name: change["new"]}), names="value")
            self._ui = ui
            self._push()
        return self._ui

    widget = property(lambda self: self._controls()["widget"], doc="the explorer: dropdowns, figure, audio")
    host = property(lambda self: self._controls()["host"], doc="the host dropdown")
    semantic = property(lambda self: self._controls()["semantic"], doc="the F_s source dropdown")
    seed = property(lambda self: self._controls()["seed"], doc="the seed dropdown")
    word = property(lambda self: self._controls()["word"], doc="the pair word dropdown (index into source.words)")
    status = property(lambda self: self._controls()["status"], doc="one line on the choice")
    output = property(lambda self: self._controls()["output"], doc="the figure (plotly's mimetype)")
    audio = property(lambda self: self._controls()["audio"], doc="the clip's audio (wav)")

    # choosing and drawing ---------------------------------------------------------------------

    def select(self, host: str | None = None, semantic: str | None = None, seed: int | None = None,
               word: int | None = None) -> go.Figure | None:  # fmt: skip
        """Change the choice (the dropdowns follow) and redraw once; returns the figure (None: not trained)."""
        new = {k: v for k, v in dict(host=host, semantic=semantic, seed=seed, word=word).items() if v is not None}
        if all(self.choice[k] == v for k, v in new.items()):
            return self.figure
        self._check({**self.choice, **new})
        self.choice.update(new)
        self._draw()
        if self._ui is not None:
            for k, v in new.items():
                self._ui[k].value = v  # a dropdown set to the chosen value: its observer finds nothing new
            self._push()
        return self.figure

    def _check(self, choice: dict) -> None:
        for key, among in (("host", self.plan.hosts), ("semantic", self.plan.semantics), ("seed", self.plan.seeds)):
            if choice[key] not in among:
                raise ValueError(f"LipExplorer: {key} must be one of the plan's {list(among)}, got {choice[key]!r}")
        self.source.word(choice["word"])  # an IndexError naming the number of words

    def _draw(self) -> None:
        host, sem, seed, word = (self.choice[k] for k in ("host", "semantic", "seed", "word"))
        w = self.source.word(word)
        if not self.source.trained(host, sem, seed):
            self.current = self.figure = None
            self.note = (f"<b>{host} + {sem}, seed {seed} is not trained</b> ({self.plan.folder(host, sem, seed)}): "
                         "run the grid above first")  # fmt: skip
            return
        self.current = self.source.lips(host, sem, seed, word)
        self.figure = word_figure(self.current, self.upper, self.lower)
        self.note = f"clip {w.stem}: {w.word} ({w.start:.2f}–{w.end:.2f} s), the partner word {w.partner}"

    def _push(self) -> None:
        """The current choice into the widgets: the status line, the figure and the clip's audio."""
        ui, w = self._ui, self.source.word(self.choice["word"])
        ui["status"].value = self.note
        ui["audio"].value = (self.source.corpus.root / "wav" / f"{w.stem}.wav").read_bytes()
        if self.figure is None:
            ui["output"].outputs = ()
            return
        bundle = {"application/vnd.plotly.v1+json": json.loads(pio.to_json(self.figure, validate=False)),
                  "text/plain": f"<lip figure: {w.label}>"}  # fmt: skip
        ui["output"].outputs = ({"output_type": "display_data", "data": bundle, "metadata": {}},)

    def show(self, out_dir=None, name: str = "lip_explorer"):
        """Live (:func:`~w2s.viz.display.interactive`): display the widget. Otherwise (an executed notebook, its
        HTML): the static figure of the current choice (saved as `out_dir`/`name`.html too) and the clip's audio,
        and no widget. Returns the figure's file in the static case, else None."""
        from IPython.display import Audio, Markdown, display

        if interactive():
            display(self.widget)
            return None
        if self.figure is None:
            raise ValueError(f"LipExplorer.show: {self.note}; choose a trained cell for the static figure")
        w = self.current
        path = show_figure(self.figure, out_dir, name)
        display(Audio(filename=str(w.audio)))
        display(Markdown(f"*A static view of one choice ({w.host} + {w.semantic}, seed {w.seed}, "
                         f"'{w.word.word}' in {w.word.stem}): open the notebook in JupyterLab and run this cell to "
                         "choose the host, the F_s source, the seed and the word.*"))  # fmt: skip
        return path
