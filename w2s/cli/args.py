"""What every `w2s` subcommand shares: the parser with one-line errors, the argument types, NAME=VALUE
parameters, and UsageError (a problem with the user's input, reported without a traceback)."""

from __future__ import annotations

import argparse
import ast
import math


class UsageError(Exception):
    """A problem with the user's input, reported without a traceback."""


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``w2s CMD: error: argument --steps: must be >= 1, got 0``."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def at_least(low: int):
    """An argparse type: an integer >= `low` (the message names the option through argparse)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer >= {low}, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
        return value

    return parse


def number_above(low: float, strict: bool):
    """An argparse type: a finite number > `low` (`strict`) or >= `low`."""
    what = f"a finite number {'>' if strict else '>='} {low:g}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not (math.isfinite(value) and (value > low if strict else value >= low)):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text}")
        return value

    return parse


positive, nonnegative_float = number_above(0, strict=True), number_above(0, strict=False)  # learning rates | loss weights
COUNT, NONNEGATIVE = at_least(1), at_least(0)  # steps, batch sizes, samples | seeds, limits


def parse_param(item: str, literal: bool = True) -> tuple[str, object]:
    """NAME=VALUE -> (NAME, VALUE): a Python literal if it reads as one, else the text; with
    literal=False always the text (notebook parameters: the runner types them as their notebook declares)."""
    name, eq, raw = item.partition("=")
    if not eq or not name.strip():
        raise UsageError(f"parameter {item!r} must look like NAME=VALUE")
    if not literal:
        return name.strip(), raw
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        value = raw  # a bare string
    return name.strip(), value
