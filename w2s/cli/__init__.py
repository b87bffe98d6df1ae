"""The `w2s` command. Each subcommand lives in a module of this package with its ``configure_<name>(parser)``
and ``run_<name>(args)``; COMMANDS names the module.

A command's module (and what it imports: torch, the decoders, plotly, ...) loads only when that command
runs, so `w2s --help` and `w2s speak` start at once (benchmarks/import_time.py); `build_parser()` with no
argument configures every command (the whole parser, as for documentation).

Errors the user can fix (bad input, missing files, unknown parameters) print one clear line to
stderr and exit with status 2; nothing half-written is left behind.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from collections.abc import Iterable

from w2s.cli.args import Parser, UsageError
from w2s.utils.io import OutputError
from w2s.utils.runtime import check_compute_env

__all__ = ["COMMANDS", "UsageError", "build_parser", "main"]

COMMANDS = {  # name -> (module of w2s.cli, help)
    "speak": ("speak", "synthesize speech with phoneme and word timings"),
    "pairs": ("phonemes", "list the mined near-homophone pairs (or a control group)"),
    "distances": ("phonemes", "the measured phoneme acoustic-distance table"),
    "corpus": ("corpus", "build the embedded talking-head corpus, or check its phonemes"),
    "coupling": ("coupling", "measure how an encoder couples near-homophones (and the controls)"),
    "wav2sem": ("wav2sem", "train Wav2Sem, the audio-to-semantic adapter"),
    "decoder": ("decoder", "train and evaluate a host decoder (VOCA, FaceFormer, CodeTalker, ...)"),
    "animate": ("animate", "turn any wav into a talking-head video with a trained decoder"),
    "notebooks": ("notebooks", "execute the notebooks in order with papermill"),
    "readme": ("notebooks", "rewrite the README's results tables from a run's metrics"),
}

# errors the user can fix that are not ValueError or OSError, by the module that defines them: an error of
# a class is raised only once its module has loaded, so naming them never imports a module
_LOADED_ERRORS = (("w2s.corpus.build", "BuildError"), ("w2s.runner", "NotebookError"))


def _command(name: str, what: str):
    """`configure_<name>` or `run_<name>` of the command's module (imported now)."""
    module = importlib.import_module(f"w2s.cli.{COMMANDS[name][0]}")
    return getattr(module, f"{what}_{name}")


def build_parser(configure: Iterable[str] | None = None) -> Parser:
    """The `w2s` parser. Every command is listed; the arguments of those in `configure` (default: all) are
    added, which imports their modules."""
    parser = Parser(prog="w2s", description="Wav2Sem tutorial and reproduction toolkit")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress")
    sub = parser.add_subparsers(dest="command", required=True)
    chosen = set(COMMANDS if configure is None else configure)
    for name, (_, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name in chosen:
            _command(name, "configure")(p)
    return parser


def _command_in(argv: list[str]) -> str | None:
    """The subcommand `argv` names: its first word that is not an option (w2s's own options take no value)."""
    return next((a for a in argv if isinstance(a, str) and not a.startswith("-")), None)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser([c for c in (_command_in(argv),) if c in COMMANDS])  # only the chosen command's module
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose or args.command == "notebooks" else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    where = " ".join(["w2s", args.command] + ([args.action] if getattr(args, "action", None) else []))
    try:
        check_compute_env()  # W2S_THREADS, W2S_CPU_ISA
        return _command(args.command, "run")(args)
    except BrokenPipeError:  # e.g. `w2s pairs | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:  # Ctrl-C: partial output was removed on the way out (atomic writes, builds)
        print(f"{where}: interrupted", file=sys.stderr)
        return 130
    except _user_errors() as e:  # (evaluated when an error is raised: the modules loaded by then)
        print(f"{where}: error: {_one_line(e)}", file=sys.stderr)
        return 2


def _user_errors() -> tuple[type[BaseException], ...]:
    """UsageError, ValueError (SpeechError, DecoderError, ...), OSError, and those of _LOADED_ERRORS loaded."""
    loaded = (getattr(sys.modules[m], name, None) for m, name in _LOADED_ERRORS if m in sys.modules)
    return (UsageError, ValueError, OSError, *(e for e in loaded if isinstance(e, type)))


def _one_line(e: BaseException) -> str:
    """An error as one line: OSErrors as "problem: file" (read-only, disk full), any message's lines joined."""
    if isinstance(e, OSError) and not isinstance(e, OutputError) and e.strerror:
        text = f"{e.strerror}: {e.filename}" if e.filename else e.strerror
    else:
        text = str(e) or type(e).__name__
    return " ".join(text.split())
