"""Finding a pupil by name the way a cashier types it: any case, with or without accents.

"lea" finds Léa, "mul" finds Müller, "lea m" finds Léa Müller: each word typed must start one of
the words of the pupil's first name, last name or class.
"""

from __future__ import annotations

import unicodedata


def fold(text: str) -> str:
    """Lower case without accents: 'Émile Müller' → 'emile muller'."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def name_matches(query: str, *names: str) -> bool:
    words = fold(" ".join(names)).replace("-", " ").split()
    wanted = fold(query).replace("-", " ").split()
    return bool(wanted) and all(any(word.startswith(w) for word in words) for w in wanted)
