"""Reading a pickle of arrays without running code: only numpy arrays, dtypes, scalars and plain
containers may be rebuilt. Anything else a pickle names (``os.system``, a class with ``__reduce__``)
is refused before it is looked up, so nothing in the file runs.

Python-2 pickles (VOCASET's and FaceFormer's ``templates.pkl``) store array bytes as py2 ``str`` and
are read with ``encoding="latin1"``, which leaves python-3 pickles unchanged.
"""

from __future__ import annotations

import io
import pickle
import warnings

# (module, name) a pickle of arrays may name; both numpy 1 (numpy.core) and numpy 2 (numpy._core)
# spellings, and python 2's __builtin__ (the unpickler maps it to builtins after this check)
_NUMPY = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    *(
        (f"{core}.multiarray", n)
        for core in ("numpy.core", "numpy._core")
        for n in ("_reconstruct", "scalar")
    ),
    *((f"{core}.numeric", "_frombuffer") for core in ("numpy.core", "numpy._core")),
}
_PLAIN = (
    "dict",
    "list",
    "tuple",
    "set",
    "frozenset",
    "int",
    "float",
    "complex",
    "bool",
    "str",
    "bytes",
    "bytearray",
)
ALLOWED = frozenset(
    _NUMPY
    | {(m, n) for m in ("builtins", "__builtin__") for n in _PLAIN}
    | {
        ("collections", "OrderedDict"),
        ("_codecs", "encode"),
    }  # py3 protocol-2 bytes: _codecs.encode(str, latin1)
)


class RefusedPickle(pickle.UnpicklingError):
    """A pickle that names something other than arrays and plain containers; `name` is what it named."""

    def __init__(self, name: str):
        super().__init__(f"it asks for {name}, which is not a numpy array, number or plain container")
        self.name = name


class _ArraysOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in ALLOWED:
            raise RefusedPickle(f"{module}.{name}")
        return super().find_class(module, name)


def load_arrays(path_or_file):
    """The object in a pickle of numpy arrays, numbers, strings and plain containers (dict, list, ...).

    Raises :class:`RefusedPickle` (an ``UnpicklingError``) when the pickle names any other global,
    before it is looked up or called."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # old pickles name numpy.core
        if isinstance(path_or_file, (bytes, bytearray)):
            return _ArraysOnly(io.BytesIO(path_or_file), encoding="latin1").load()
        if hasattr(path_or_file, "read"):
            return _ArraysOnly(path_or_file, encoding="latin1").load()
        with open(path_or_file, "rb") as f:
            return _ArraysOnly(f, encoding="latin1").load()
