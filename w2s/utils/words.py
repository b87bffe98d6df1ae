"""Word matching shared by the corpus builder and the dataset readers."""

from __future__ import annotations

import re


def normalise_word(word: str) -> str:
    """Case folded, punctuation stripped ("Bad," -> "bad"; inner apostrophes kept: "don't")."""
    return re.sub(r"[^\w']+", "", str(word).casefold()).strip("'")
