"""Notebook 04's explorer, driven through its widgets' API on the smoke corpus with tiny trained cells:
the data behind it (truth, prediction, the partner's counterfactual, the word's score), the redraw on every
dropdown, the audio of the clip, and the static fallback of an executed notebook."""

import base64

import numpy as np
import pytest

from w2s.decoders.training import DecoderRecipe, train_decoder
from w2s.evaluation import word_lips
from w2s.evaluation.decoders import evaluate_decoder, predict_clips
from w2s.evaluation.grid import GridPlan
from w2s.evaluation.minimal_pairs import corpus_counterfactuals
from w2s.evaluation.word_lips import WordLipsSource
from w2s.viz import display
from w2s.viz.explorer import LipExplorer, word_figure
from w2s.viz.plug import aperture_mm, lip_rows

PLOTLY = "application/vnd.plotly.v1+json"


@pytest.fixture(scope="module")
def plan(smoke_corpus, tmp_path_factory, one_torch_thread):
    """A grid of the test-only reference host: none and oracle_word trained with seed 0; seed 1 left untrained."""
    models = tmp_path_factory.mktemp("explorer")
    p = GridPlan(str(smoke_corpus), "no-wav2sem", hosts=("reference",), semantics=("none", "oracle_word"),
                 seeds=(0, 1), conditions="0", models_dir=str(models))  # fmt: skip
    for sem in p.semantics:
        recipe = DecoderRecipe("reference", semantic=sem, encoder="mfcc", max_steps=30, batch_size=4, seed=0)
        train_decoder(recipe, smoke_corpus, p.folder("reference", sem, 0))
    return p


@pytest.fixture(scope="module")
def source(plan):
    return WordLipsSource(plan)


def test_word_lips_are_the_truth_the_prediction_and_the_counterfactual(plan, source, smoke_corpus):
    cfs = dict(zip(source.stems, corpus_counterfactuals(smoke_corpus, source.stems, "test"), strict=True))
    scored = [(s, k) for s in source.stems for k, cf in enumerate(cfs[s]) if cf.excluded is None]
    assert [(w.stem, w.index) for w in source.words] == scored and len(scored) > 1
    k = len(source.words) - 1
    w = source.lips("reference", "oracle_word", 0, k)
    word, cf = source.words[k], cfs[source.words[k].stem][source.words[k].index]
    assert (w.word.word, w.word.partner) == (cf.swap.word, cf.swap.partner) and word.partner in word.label
    np.testing.assert_array_equal(w.word_frames, cf.frames)
    assert w.frames[0] <= cf.frames[0] and w.frames[-1] >= cf.frames[-1] and len(w.frames) > len(cf.frames)
    # the partner: the counterfactual's lips, the truth everywhere else
    at = np.searchsorted(w.frames, w.word_frames)
    np.testing.assert_allclose(w.partner[:, source.corpus.lips], cf.lips)
    rest = np.setdiff1d(np.arange(w.truth.shape[1]), source.corpus.lips)
    np.testing.assert_allclose(w.partner[:, rest], w.truth[at][:, rest])
    assert np.abs(w.partner - w.truth[at]).max() > 0
    # the truth is the clip's vertices; the prediction is the model's, in identity 0, over the shown frames
    (pred,), (clip,) = predict_clips(w.folder, [word.stem], split="test", subject=0)
    np.testing.assert_array_equal(w.truth, clip.vertices.numpy()[w.frames])
    np.testing.assert_allclose(w.prediction, pred[w.frames], atol=1e-6)
    # the word's score is the evaluation's, and the distances panel averages to it
    res = evaluate_decoder(w.folder, split="test", conditions=0, with_baseline=False)
    (rec,) = [r for r in res["minimal_pair_words"] if (r["stem"], r["word"], r["start"]) == (word.stem, word.word, word.start)]
    assert w.score["score"] == rec["score"]
    assert w.score["d_true"] == pytest.approx(rec["d_true"], rel=1e-5)
    d = w.lip_distances()
    assert d["truth"].mean() == pytest.approx(w.score["d_true"]) and d["partner"].mean() == pytest.approx(w.score["d_partner"])
    assert w.audio == smoke_corpus / "wav" / f"{word.stem}.wav" and w.audio.is_file()
    with pytest.raises(IndexError, match="scored pair words"):
        source.word(len(source.words))


def _trace(fig: dict, meta: str) -> dict:
    """The trace `meta` of a figure's plotly JSON, its x and y as arrays (plotly writes typed arrays in base64)."""
    (t,) = [t for t in fig["data"] if t.get("meta") == meta]
    return {**t, **{k: _array(t[k]) for k in ("x", "y")}}


def _array(v) -> np.ndarray:
    if isinstance(v, dict):
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"])
    return np.asarray(v, dtype=float)


def test_explorer_redraws_on_each_dropdown_and_plays_the_clip(plan, source, smoke_corpus):
    ex = LipExplorer(plan, source=source)
    assert ex.semantic.value == "none" and ex.host.value == "reference" and ex.word.value == 0  # no wav2sem here
    assert ex.word.options[0] == (source.words[0].label, 0) and len(ex.word.options) == len(source.words)
    up, lo = lip_rows(smoke_corpus)
    first = ex.output.outputs[0]["data"][PLOTLY]
    np.testing.assert_allclose(_trace(first, "prediction")["y"], aperture_mm(source.lips("reference", "none", 0, 0).prediction, up, lo))

    ex.semantic.value = "oracle_word"  # another cell: the prediction changes, the truth and the partner do not
    now = ex.output.outputs[0]["data"][PLOTLY]
    assert ex.current.semantic == "oracle_word" and "oracle_word" in ex.figure.layout.title.text
    want = source.lips("reference", "oracle_word", 0, 0)
    np.testing.assert_allclose(_trace(now, "prediction")["y"], aperture_mm(want.prediction, up, lo))
    assert not np.allclose(_trace(now, "prediction")["y"], _trace(first, "prediction")["y"])
    np.testing.assert_allclose(_trace(now, "partner")["y"], _trace(first, "partner")["y"])

    k = len(source.words) - 1
    ex.word.value = k  # another word: its clip's audio, its counterfactual as the partner trace
    w = source.words[k]
    assert ex.audio.value == (smoke_corpus / "wav" / f"{w.stem}.wav").read_bytes() and ex.audio.format == "wav"
    assert not ex.audio.autoplay
    cf = source.counterfactual(k)
    partner = ex.output.outputs[0]["data"][PLOTLY]
    shown = _trace(partner, "partner")
    assert shown["name"] == f"partner: {w.partner}" and len(shown["x"]) == len(cf.frames)
    np.testing.assert_allclose(shown["x"], cf.frames / source.corpus.fps)
    np.testing.assert_allclose(shown["y"], aperture_mm(ex.current.partner, up, lo))
    mean_to = {m: np.mean(_trace(partner, f"to {m}")["y"]) for m in ("truth", "partner")}
    assert mean_to["truth"] == pytest.approx(1000 * ex.current.score["d_true"])
    assert mean_to["partner"] == pytest.approx(1000 * ex.current.score["d_partner"])

    ex.seed.value = 1  # not trained: said, nothing drawn
    assert ex.figure is None and ex.current is None and ex.output.outputs == ()
    assert "not trained" in ex.status.value
    with pytest.raises(ValueError, match="host must be one of the plan's"):
        ex.select(host="voca", seed=0)  # not in the plan: nothing changes
    assert ex.choice["seed"] == 1 and ex.seed.value == 1
    fig = ex.select(semantic="none", seed=0, word=0)  # several at once; the dropdowns follow
    assert fig is ex.figure and ex.current.semantic == "none" and ex.current.word == source.words[0]
    assert (ex.semantic.value, ex.seed.value, ex.word.value) == ("none", 0, 0) and ex.output.outputs
    np.testing.assert_allclose(fig.data[1].y, _trace(first, "prediction")["y"])


def test_word_figure_refuses_lip_rows_outside_the_lips(source, smoke_corpus):
    w = source.lips("reference", "none", 0, 0)
    up, lo = lip_rows(smoke_corpus)
    fig = word_figure(w, up, lo)
    assert [t.meta for t in fig.data] == ["truth", "prediction", "partner", "to truth", "to partner"]
    outside = np.setdiff1d(np.arange(w.truth.shape[1]), w.lips)[:3]
    with pytest.raises(ValueError, match="lip vertices"):
        word_figure(w, outside, lo)


@pytest.fixture
def shown(monkeypatch):
    """Collects what IPython displays, in a notebook (as test_display's)."""
    monkeypatch.setattr(display, "_plotlyjs_sent", False)
    monkeypatch.setattr(display, "_in_notebook", lambda: True)
    outputs = []
    monkeypatch.setattr("IPython.display.display", lambda obj, raw=False, **kw: outputs.append(obj if raw else obj._repr_mimebundle_()
                        if hasattr(obj, "_repr_mimebundle_") else {"text/html": obj._repr_html_()} if hasattr(obj, "_repr_html_")
                        else {"text/markdown": obj._repr_markdown_()}))  # fmt: skip
    return outputs


def test_static_fallback_when_not_interactive_and_the_widget_when_live(plan, source, shown, monkeypatch, tmp_path):
    ex = LipExplorer(plan, semantic="oracle_word", source=source)
    monkeypatch.setenv("W2S_INTERACTIVE", "0")  # the runner: no kernel behind the executed notebook's HTML
    path = ex.show(tmp_path)
    assert path == tmp_path / "lip_explorer.html" and path.is_file()
    assert not any("application/vnd.jupyter.widget-view+json" in o for o in shown)  # no widget: it would show nothing
    assert ex._ui is None  # none made either: the executed notebook carries no widget state
    (fig,) = [o[PLOTLY] for o in shown if PLOTLY in o]
    assert [t["meta"] for t in fig["data"]] == [t.meta for t in ex.figure.data]
    np.testing.assert_allclose(_trace(fig, "prediction")["y"], ex.figure.data[1].y)
    audio = [o["text/html"] for o in shown if "<audio" in o.get("text/html", "")]
    assert len(audio) == 1 and "data:audio/x-wav;base64," in audio[0]
    assert any("JupyterLab" in o.get("text/markdown", "") for o in shown)

    shown.clear()
    monkeypatch.setenv("W2S_INTERACTIVE", "1")  # live: the widget itself
    assert ex.show(tmp_path / "live") is None
    (view,) = [o["application/vnd.jupyter.widget-view+json"] for o in shown]
    assert view["model_id"] == ex.widget.model_id and not (tmp_path / "live").exists()

    ex.select(seed=1)  # the static figure needs a trained cell
    assert ex.seed.value == 1 and "not trained" in ex.status.value  # the dropdowns follow select()
    monkeypatch.setenv("W2S_INTERACTIVE", "0")
    with pytest.raises(ValueError, match="not trained"):
        ex.show(tmp_path)


def test_a_few_clips_and_predictions_are_kept(plan, monkeypatch):
    monkeypatch.setattr(word_lips, "KEEP_CLIPS", 1)
    monkeypatch.setattr(word_lips, "KEEP_PREDICTIONS", 1)
    src = WordLipsSource(plan)
    first = src.lips("reference", "none", 0, 0)
    src.lips("reference", "oracle_word", 0, 0)  # other F_s, other clips: the first cell's are let go
    assert len(src._clips) == 1 and len(src._preds) == 1 and len(src._models) == 2
    again = src.lips("reference", "none", 0, 0)  # loaded and predicted again: the same
    np.testing.assert_array_equal(again.prediction, first.prediction)
    np.testing.assert_array_equal(again.truth, first.truth)
