"""Pickles of arrays are read without running code: templates.pkl of ours, VOCASET's and BIWI's."""

from __future__ import annotations

import os
import pickle
from collections import OrderedDict

import numpy as np
import pytest
from layouts import write_templates  # tests/layouts.py

from w2s.data.files import load_templates
from w2s.data.spec import DatasetError
from w2s.utils.safe_pickle import RefusedPickle, load_arrays


class _Payload:
    """Unpickling it runs a shell command that creates `marker`."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _Stealth:
    """Runs the payload, then the pickle goes on to give real templates (the stealth variant)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (eval, (f"__import__('os').system('touch {self.marker}') and None",))


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_arrays_numbers_and_plain_containers_load(protocol):
    obj = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), b"k": [1, 2.5, "x", (True, None)],
           "s": np.float64(1.5), "o": OrderedDict(z=np.int16(3)), "set": {1, 2}, "raw": b"\x00\xff"}  # fmt: skip
    got = load_arrays(pickle.dumps(obj, protocol=protocol))
    np.testing.assert_array_equal(got["a"], obj["a"])
    assert (
        got["a"].dtype == np.float32
        and got[b"k"] == obj[b"k"]
        and got["s"] == 1.5
        and got["raw"] == b"\x00\xff"
    )
    assert got["o"] == OrderedDict(z=3) and got["set"] == {1, 2}


def test_python2_pickle_of_arrays_loads(tmp_path):
    t = {"F2": np.linspace(-1, 1, 12).reshape(4, 3), "M1": np.zeros((4, 3))}
    write_templates(tmp_path / "templates.pkl", t, "py2")  # py2 str opcodes (BINSTRING), protocol 2
    raw = (tmp_path / "templates.pkl").read_bytes()  # python 2's numpy was numpy.core (text GLOBAL opcodes)
    (tmp_path / "templates.pkl").write_bytes(raw.replace(b"numpy._core.multiarray", b"numpy.core.multiarray"))
    assert b"numpy.core.multiarray" in (tmp_path / "templates.pkl").read_bytes()
    got = load_templates(tmp_path / "templates.pkl")
    assert sorted(got) == ["F2", "M1"] and got["F2"].dtype == np.float32
    np.testing.assert_allclose(got["F2"], t["F2"], rtol=1e-6)


@pytest.mark.parametrize("kind", ["payload", "stealth"])
def test_a_crafted_templates_pkl_runs_nothing(tmp_path, kind):
    marker = tmp_path / "MARKER"
    evil = _Payload(marker) if kind == "payload" else _Stealth(marker)
    templates = {"S1": np.zeros((4, 3), np.float32), "_": evil}
    (tmp_path / "templates.pkl").write_bytes(pickle.dumps(templates, protocol=4))
    with pytest.raises(DatasetError) as e:
        load_templates(tmp_path / "templates.pkl")
    msg = str(e.value)
    assert str(tmp_path / "templates.pkl") in msg and "refused" in msg
    assert ("system" in msg) if kind == "payload" else ("builtins.eval" in msg)
    assert "\n" not in msg
    assert not marker.exists()


def test_refusal_names_the_global_before_looking_it_up():
    data = b"cno_such_mod\nfun\n."  # protocol 0: GLOBAL no_such_mod.fun, STOP
    with pytest.raises(RefusedPickle) as e:
        load_arrays(data)
    assert e.value.name == "no_such_mod.fun"  # refused by name: the module is never imported
