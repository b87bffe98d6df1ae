"""The repository's set-up files agree with each other and with the README."""

import re
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


def test_makefile_installs_torch_before_the_package():
    mk = (ROOT / "Makefile").read_text()
    assert mk.index("TORCH)") < mk.index('-e ".[notebooks,dev]"')
    assert "torch==2.13.0" in mk  # resolves to the CPU wheel on the CI machine


def test_console_script_declared():
    assert PYPROJECT["project"]["scripts"]["w2s"] == "w2s.cli:main"
