"""A notebook's parameters, checked before anything runs (papermill only warns on unknown names).

- the names: each must be declared in the notebook's `parameters` cell, as plain `NAME = literal  # help`;
- the types: each value must fit the type of its literal (or its annotation): a string from the command line
  is converted (`SMOKE=false` is False, `SEED=abc` is an error naming SEED and int), ints are accepted for
  floats, strings stay strings;
- the modes: a parameter that the notebook's own `if SMOKE:` (or `if SMOKE or QUICK:`) block would overwrite
  in that mode is an error, since it would be ignored while the run's summary recorded it;
- `quick=True` gives `QUICK = True` to the notebooks that declare a QUICK parameter, and only to them.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from w2s.runner.engine import KERNEL, quiet_papermill
from w2s.runner.errors import NotebookError, ParameterError

QUICK = "QUICK"


def declared_parameters(notebook: Path) -> dict:
    """Parameters of the notebook's `parameters` cell: {name: {"default", "help", ...}}."""
    import nbformat
    import papermill as pm

    nb = nbformat.read(notebook, as_version=4)
    if nb.metadata.get("kernelspec", {}).get("name") != KERNEL:
        raise NotebookError(
            f"{notebook.name}: kernelspec must be {KERNEL!r} (save it with the Python 3 kernel)"
        )
    cells = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if not cells:
        raise NotebookError(f"{notebook.name} has no cell tagged 'parameters'")
    with quiet_papermill():
        declared = pm.inspect_notebook(str(notebook))
    # papermill's parser drops lines it cannot parse; every assignment must be a plain literal
    assigned = re.findall(r"^([A-Za-z_]\w*)\s*(?::[^=]*)?=", cells[0].source, flags=re.M)
    unparsed = sorted(set(assigned) - set(declared))
    if unparsed:
        raise NotebookError(
            f"{notebook.name}: parameters {unparsed} are not plain `NAME = literal  # help` lines"
        )
    for name, spec in declared.items():
        try:
            ast.literal_eval(spec["default"])
        except (ValueError, SyntaxError):
            raise NotebookError(
                f"{notebook.name}: parameter {name} = {spec['default']} is not a plain literal"
            ) from None
    return declared



# --- parameters: names and types ---------------------------------------------------------------

_TYPES = {"bool": bool, "int": int, "float": float, "str": str, "list": list, "dict": dict, "tuple": tuple}
_TRUE, _FALSE = {"true", "yes", "on", "1"}, {"false", "no", "off", "0"}
_EXAMPLE = {bool: "true or false", int: "an integer, e.g. 3", float: "a number, e.g. 0.5", list: "a list, e.g. [1, 2]",
            dict: "a dict, e.g. {'a': 1}", tuple: "a tuple, e.g. (1, 2)", str: "a string"}  # fmt: skip


def declared_type(spec: dict) -> type | None:
    """The type a parameter's value must have: its annotation if a plain type, else its literal's (None: any)."""
    annotated = _TYPES.get(str(spec.get("inferred_type_name")))
    if annotated is not None:
        return annotated
    default = ast.literal_eval(spec["default"])
    return None if default is None else type(default)


def coerce_parameter(name: str, value, expected: type | None, where: str = "") -> object:
    """`value` as the declared type `expected`; a string (from the command line) is parsed. ParameterError if
    it does not fit: the message names the parameter, the expected type and an example."""

    def bad() -> ParameterError:
        origin = f" ({where} declares {name} as {expected.__name__})" if where else ""
        return ParameterError(f"parameter {name}={value!r} is not {_EXAMPLE[expected]}{origin}")

    if expected is None:  # declared as None: anything; a string is read as a literal if it is one
        return _literal_or_text(value) if isinstance(value, str) else value
    if expected is str:
        if not isinstance(value, str):
            raise bad()
        parsed = _literal_or_text(value)
        return parsed if isinstance(parsed, str) else value  # '"x y"' -> x y; anything else verbatim
    given = value
    if isinstance(value, str):
        text = value.strip()
        if expected is bool:
            if text.lower() in _TRUE | _FALSE:
                return text.lower() in _TRUE
            raise bad()
        given = _literal_or_text(text)
    if expected is bool and isinstance(given, bool):
        return given
    if expected is int and isinstance(given, int) and not isinstance(given, bool):
        return given
    if expected is float and isinstance(given, (int, float)) and not isinstance(given, bool):
        return float(given)
    if expected in (list, tuple) and isinstance(given, (list, tuple)):
        return expected(given)
    if expected is dict and isinstance(given, dict):
        return given
    raise bad()


def _literal_or_text(text: str):
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text


def check_parameters(notebook: Path, parameters: dict) -> dict:
    """The parameters as the notebook declares them (names known, values coerced to the declared types)."""
    declared = declared_parameters(notebook)
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise NotebookError(
            f"{notebook.name}: unknown parameter(s) {unknown}; it declares {sorted(declared)}"
        )
    return {
        name: coerce_parameter(name, value, declared_type(declared[name]), notebook.name)
        for name, value in parameters.items()
    }


def notebook_parameters(notebook: Path, parameters: dict, quick: bool = False) -> dict:
    """What `notebook` receives: `parameters` checked and typed, plus QUICK=True if `quick` and it declares QUICK."""
    checked = check_parameters(notebook, parameters)
    if "OUT_DIR" not in declared_parameters(notebook):
        raise NotebookError(f"{notebook.name}: its parameters cell must declare OUT_DIR (where it writes)")
    if quick and QUICK in declared_parameters(notebook):
        checked[QUICK] = True
    return checked


# --- parameters a notebook sets itself (`if SMOKE:` blocks) -------------------------------------

_SWITCHES = ("SMOKE", QUICK)  # the mode parameters (--smoke, --quick): `if SMOKE:` blocks reset others


def _switched(test: ast.expr, modes: dict) -> bool | None:
    """The value of an `if` test made only of SMOKE/QUICK, not, and, or; None for any other test."""
    if isinstance(test, ast.Name):
        return bool(modes[test.id]) if test.id in modes else None
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        value = _switched(test.operand, modes)
        return None if value is None else not value
    if isinstance(test, ast.BoolOp):
        values = [_switched(v, modes) for v in test.values]
        if None in values:
            return None
        return all(values) if isinstance(test.op, ast.And) else any(values)
    return None


def mode_overrides(notebook: Path, modes: dict) -> dict[str, str]:
    """{name: "if SMOKE:"}: what the notebook assigns in the top-level `if` blocks on its mode parameters
    that run with `modes` ({"SMOKE": True, ...}), in code cells after its parameters cell."""
    import nbformat

    found: dict[str, str] = {}
    for cell in nbformat.read(notebook, as_version=4).cells:
        if cell.cell_type != "code" or "parameters" in cell.get("metadata", {}).get("tags", []):
            continue  # (the parameters cell runs before papermill's injected values: they win over it)
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:  # IPython magics: not a mode block
            continue
        for node in tree.body:
            runs = _switched(node.test, modes) if isinstance(node, ast.If) else None
            if runs is not None:
                names = _assigned(node.body if runs else node.orelse) - set(found)
                found.update((name, f"if {ast.unparse(node.test)}:") for name in names)
    return found


def _assigned(body: list[ast.stmt]) -> set[str]:
    return {n.id for stmt in body for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


def check_not_overridden(notebook: Path, checked: dict, given) -> None:
    """ParameterError if a parameter in `given` (names the user set) would be reset by the notebook's
    own mode block (`-p CORPUS_PRESET=default --smoke`: the smoke block sets it to "smoke")."""
    declared = declared_parameters(notebook)
    modes = {k: checked.get(k, ast.literal_eval(declared[k]["default"])) for k in _SWITCHES if k in declared}
    for name, block in mode_overrides(notebook, modes).items():
        if name in given and name not in modes:
            state = ", ".join(f"{k}={v}" for k, v in modes.items())
            raise ParameterError(
                f"parameter {name}={checked[name]!r} would be ignored: {notebook.name} sets {name} itself "
                f"under `{block}` ({state}); leave -p {name} out, or run in a mode that keeps it"
            )

