"""Notebook 04's conclusion is assembled from the numbers it is given."""

from w2s.evaluation.conclusion import conclusion_rows
from w2s.viz.results import bounds_figure


def _p(host, treated, metric, d, lo, hi, verdict):
    return {"host": host, "treated": treated, "metric": metric, "mean_difference": d, "ci_low": lo, "ci_high": hi,
            "relative_change": d, "relative_ci_low": lo, "relative_ci_high": hi, "verdict": verdict,
            "mde_paired_relative": (hi - lo) / 2}  # fmt: skip


PAIRED = [
    _p("voca", "oracle_word", "minimal_pair_accuracy", 0.2, 0.1, 0.3, "higher"),
    _p("faceformer", "oracle_word", "minimal_pair_accuracy", 0.01, -0.05, 0.07, "no clear effect"),
    _p("voca", "wav2sem", "lve", 0.004, -0.01, 0.018, "no clear effect"),
    _p("faceformer", "wav2sem", "lve", 0.03, 0.01, 0.05, "higher"),
    _p("voca", "oracle_text", "lve", -0.02, -0.03, -0.01, "lower"),
]
USE = [{"host": "voca", "F_s": "wav2sem", "swap_over_seed": 0.001, "scale_after": 0.03},
       {"host": "faceformer", "F_s": "wav2sem", "swap_over_seed": 0.5, "scale_after": 0.9}]  # fmt: skip
MDE = [{"host": "voca", "metric": "lve", "n_seeds": 3, "n_units": 40, "mde_relative": 0.021, "mde": 2e-7,
        "seeds_for_0.01": 12}, {"host": "faceformer", "metric": "lve", "n_seeds": 3, "n_units": 40,
        "mde_relative": 0.05, "mde": 8e-7, "seeds_for_0.01": None}]  # fmt: skip
BOUNDS = {"condition": 0, "rows": {
    "baseline": {"lve": 2e-5, "homophone_lve": 3e-5}, "protocol_floor": {"lve": 0.1e-5, "homophone_lve": 0.1e-5},
    "counterfactual": {"lve": 0.3e-5, "homophone_lve": 2e-5},
    "protocol_floor_counterfactual": {"lve": 0.5e-5, "homophone_lve": 2.5e-5}}}  # fmt: skip
SUMMARY = [{"host": "voca", "semantic": "none", "lve": 1.05e-5, "lve_std": 1e-7, "homophone_lve": 1e-5, "homophone_lve_std": 0},
           {"host": "voca", "semantic": "wav2sem", "lve": 1.06e-5, "lve_std": 1e-7, "homophone_lve": 1e-5, "homophone_lve_std": 0}]  # fmt: skip


def test_every_answer_comes_from_the_numbers():
    rows = conclusion_rows(PAIRED, USE, MDE, BOUNDS, SUMMARY)
    text = {r["question"].split("?")[0]: r["answer"] for r in rows}
    assert len(rows) == 6
    control = text["Can a host read an utterance-constant input at all"]
    assert "rose (95 % interval above 0) for voca;" in control and "did not clearly change for faceformer." in control
    assert "cannot be helped" in control  # faceformer fails the control
    assert "0.001–0.5 ×" in text["Does F_s reach the lips"] and "0.03–0.9 × ‖F_p‖" in text["Does F_s reach the lips"]
    assert "voca 50%" in text["How far could the lips move"]  # (1.05 - 0.1) / (2 - 0.1)
    assert "no better than that face" not in text["How far could the lips move"]
    power = text["What could this grid detect"]
    assert "2.1–5.0 %" in power and "would need 12 seeds for voca (more than 100 for the others)" in power
    assert "As run (a plugged model paired with its none twin of the same seed)" in power and "1.0–2.0 %" in power
    wav2sem = text["What does wav2sem do"]
    assert "LVE higher for faceformer; no clear effect for voca (" in wav2sem and "±1.8 %" in wav2sem
    assert text["What does oracle_text do"].startswith("LVE lower for voca. ")


def test_a_host_whose_audio_only_models_do_not_beat_the_baseline_is_named():
    lost = [{"host": "codetalker", "semantic": "none", "lve": 2.2e-5, "lve_std": 5e-6, "homophone_lve": 3e-5,
             "homophone_lve_std": 0}]  # above the baseline's 2e-5 on average  # fmt: skip
    answer = conclusion_rows(PAIRED, USE, MDE, BOUNDS, SUMMARY + lost)[2]["answer"]
    assert "codetalker 111%" in answer and "voca 50%" in answer
    assert "codetalker: audio-only models no better than that face on average over seeds, so its Δs" in answer


def test_without_bounds_and_control():
    rows = conclusion_rows([p for p in PAIRED if p["treated"] != "oracle_word"], [], [], None, SUMMARY)
    assert rows[0]["answer"].startswith("not run") and len(rows) == 5
    one_seed = [{**u, "swap_over_seed": None} for u in USE]  # quick mode: no second seed of none
    rows = conclusion_rows([{**p, "seed_variance_estimable": False} for p in PAIRED], one_seed, [], None, SUMMARY)
    assert "one seed: no seed-to-seed change" in rows[1]["answer"]
    assert "over clips only" in rows[0]["answer"] and "over clips only" in rows[-2]["answer"]
    assert "over clips only" not in conclusion_rows(PAIRED, USE, [], None, SUMMARY)[-2]["answer"]


def test_bounds_figure_draws_the_three_reference_faces():
    fig = bounds_figure(SUMMARY, BOUNDS)
    assert len(fig.layout.shapes) == 6 and len(fig.data) == 4  # 3 lines x 2 panels; 2 conditions x 2 panels
    assert {round(s.y0, 6) for s in fig.layout.shapes} == {2.0, 0.1, 0.5, 3.0, 2.5}
