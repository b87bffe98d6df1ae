"""The package follows the path: a lower stage never imports a higher one, and there are no cycles.

Reads every module's imports with ast (module level and inside functions alike), so a hidden
function-level import that points the wrong way fails here too.
"""

import ast
from pathlib import Path

import pytest

import w2s

ROOT = Path(w2s.__file__).parent

# lowest first; a module may import its own stage and any stage listed before it
LAYERS = [
    "utils", "nn", "train", "corpus", "data", "encoders", "semantic", "fusion", "decoders", "evaluation", "viz", "animate",
    "runner", "cli", "__main__",
]  # fmt: skip


def stage_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def modules() -> dict[str, Path]:
    out = {}
    for p in ROOT.rglob("*.py"):
        rel = p.relative_to(ROOT.parent).with_suffix("")
        name = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        out[name] = p
    return out


def w2s_imports(path: Path, module: str, top_level_only: bool = False) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found = []
    for node in nodes:
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names if a.name.split(".")[0] == "w2s"]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and node.module.split(".")[0] == "w2s":
            for a in node.names:  # "from w2s.corpus import speech" imports the module w2s.corpus.speech
                sub = f"{node.module}.{a.name}"
                found.append((sub if sub in MODULES else node.module, node.lineno))
    return found


MODULES = modules()
PACKAGES = {m for m, p in MODULES.items() if p.name == "__init__.py"}


def test_every_module_sits_in_a_known_stage():
    unknown = {m for m in MODULES if m != "w2s" and stage_of(m) not in LAYERS}
    assert not unknown, f"modules outside the layer list {LAYERS}: {sorted(unknown)}"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m != "w2s"))
def test_no_import_points_up_the_path(module):
    rank = {s: i for i, s in enumerate(LAYERS)}
    mine = rank[stage_of(module)]
    wrong = [
        f"{module}:{line} imports {target}"
        for target, line in w2s_imports(MODULES[module], module)
        if target != "w2s" and rank.get(stage_of(target), -1) > mine
    ]
    assert not wrong, "\n".join(wrong)


def test_w2s_imports_stand_at_the_top_of_each_module():
    hidden = []
    for module, path in MODULES.items():
        every = w2s_imports(path, module)
        top = set(w2s_imports(path, module, top_level_only=True))
        hidden += [f"{module}:{line} imports {t} inside a function" for t, line in every if (t, line) not in top]
    assert not hidden, "\n".join(hidden)


def test_no_import_cycles():
    graph = {m: {t for t, _ in w2s_imports(p, m, top_level_only=True) if t in MODULES and t != m} for m, p in MODULES.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str):
        state[m] = 1
        stack.append(m)
        for t in sorted(graph[m]):
            if state.get(t) == 1 and not (t in PACKAGES and m.startswith(t + ".")):  # a package re-exporting its own modules
                pytest.fail("import cycle: " + " -> ".join(stack[stack.index(t) :] + [t]))
            elif t not in state:
                visit(t)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)
