"""Notebooks 03-04 find notebook 02's lite Wav2Sem by its recipe: the two must not drift apart."""

import ast
from pathlib import Path

import nbformat

from w2s import runner
from w2s.evaluation.grid import MODES
from w2s.semantic.train import LITE_DEFAULTS

NB = Path(__file__).resolve().parents[2] / "notebooks"


def _defaults(name: str) -> dict:
    return {k: ast.literal_eval(v["default"]) for k, v in runner.declared_parameters(NB / name).items()}


def test_lite_defaults_are_notebook_02s():
    p = _defaults("02_train_wav2sem.ipynb")
    ours = {"text_model": p["TEXT_MODEL"], "text_kind": p["TEXT_KIND"], "loss": p["LOSS"], "host_encoder": p["HOST_ENCODER"],
            "infonce_weight": p["LITE_INFONCE"], "negatives": p["LITE_NEGATIVES"], "ctc_weight": p["LITE_CTC"],
            "pooling": p["LITE_POOLING"], "center_targets": p["LITE_CENTER"]}  # fmt: skip
    assert ours == LITE_DEFAULTS
    for nb in ("03_plug_into_decoders.ipynb", "04_evaluate.ipynb"):
        q = _defaults(nb)
        assert (q["WAV2SEM_STEPS"], q["N_SPEECH"]) == (p["LITE_STEPS"], p["N_SPEECH"]), nb


def test_smoke_and_quick_modes_match_notebook_02s():
    nb02 = "\n".join(c.source for c in nbformat.read(NB / "02_train_wav2sem.ipynb", as_version=4).cells)
    smoke = 'CORPUS_PRESET, N_SPEECH, STEPS, LITE_STEPS, LITE_SEEDS = "smoke", {n_speech}, 20, {wav2sem_steps}, {seeds}'
    assert smoke.format(**MODES["smoke"]) in nb02
    # notebook 02 trains a lite for every seed the grid of notebooks 03-04 has in that mode
    # and on the grid's corpus (quick: the "quick" corpus, whose tiny HuBERT gets the quick recipe)
    quick = 'CORPUS_PRESET, N_SPEECH, STEPS, LITE_STEPS, LITE_SEEDS = "{corpus}", {n_speech}, 20, {wav2sem_steps}, {seeds}'
    assert quick.format(**MODES["quick"]) in nb02
