"""The repository's set-up files agree with each other and with the README."""

import re
import subprocess
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_environment_yml_only_delegates_to_pyproject():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    pip = [d for d in deps if isinstance(d, dict)][0]["pip"]
    assert pip == ["-e .[notebooks,dev]"]
    extras = set(PYPROJECT["project"]["optional-dependencies"])
    assert {"notebooks", "dev"} <= extras
    conda = [d for d in deps if isinstance(d, str)]
    assert set(conda) == {f"python={_python(conda)}", "pip"}  # no python packages duplicated in conda
    lo = re.match(r">=(\d+)\.(\d+)", PYPROJECT["project"]["requires-python"]).groups()
    assert tuple(map(int, _python(conda).split("."))) >= tuple(map(int, lo))
    assert "pytorch" not in env.get("channels", [])


def _python(conda):
    return [d for d in conda if d.startswith("python=")][0].split("=")[1]


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    commands = re.findall(r"^```(?:bash|sh)\n(.*?)\n```", readme, flags=re.S | re.M)
    assert "make run" in commands and "make test" in commands
    assert re.search(r"^make test$", ci, flags=re.M)


def _setup_steps(tmp_path, *args) -> list[str]:
    """The commands `make` would run to set up a new virtual environment (a dry run: nothing runs)."""
    venv = tmp_path / "venv"
    r = subprocess.run(["make", "-n", "-C", str(ROOT), f"VENV={venv}", *args, f"{venv}/.w2s-installed"],
                       capture_output=True, text=True, check=True)  # fmt: skip
    return r.stdout.splitlines()


def test_setup_installs_pinned_torch_only_when_missing_then_the_package(tmp_path):
    steps = _setup_steps(tmp_path)
    torch_step = next(i for i, s in enumerate(steps) if "pip install" in s and "torch==2.13.0" in s)
    package_step = next(i for i, s in enumerate(steps) if "pip install" in s and '-e ".[notebooks,dev]"' in s)
    assert torch_step < package_step  # torch first, so that pip never picks a CUDA build for the package
    assert '-c "import torch"' in steps[torch_step].split("||")[0]  # a torch already there (a GPU build) is kept
    steps = _setup_steps(tmp_path, "TORCH=torch==2.13.0+cpu", "PIP_ARGS=--index-url http://example.invalid/cpu")
    assert any("torch==2.13.0+cpu" in s and "--index-url http://example.invalid/cpu" in s for s in steps)


def test_console_script_declared():
    assert PYPROJECT["project"]["scripts"]["w2s"] == "w2s.cli:main"
