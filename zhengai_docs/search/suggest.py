"""Suggestions for a query that found nothing, the same on every backend: each term alone, near
words the index knows, shorter pieces of a term — those that do find something, with their counts."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from zhengai_docs.search.backend import Suggestion

MAX_SUGGESTIONS = 5
MAX_TRIES = 12  # candidate queries counted at most (each is a search)


def suggestions(
    terms: Sequence[str], *, near_words: Callable[[str], Iterable[str]], count: Callable[[tuple[str, ...]], int]
) -> tuple[Suggestion, ...]:
    """`near_words(term)`: the backend's similar indexed words, best first; `count(terms)`: hits."""
    candidates: list[tuple[str, ...]] = [(t,) for t in terms] if len(terms) > 1 else []
    for index, term in enumerate(terms):
        candidates += [(*terms[:index], word, *terms[index + 1 :]) for word in near_words(term)]
        for size in range(len(term) - 1, 1, -1):
            candidates += [(*terms[:index], piece, *terms[index + 1 :]) for piece in (term[:size], term[-size:])]
    found: list[Suggestion] = []
    seen = {tuple(terms)}
    for candidate in candidates:
        if candidate in seen or len(seen) > MAX_TRIES:
            continue
        seen.add(candidate)
        hits = count(candidate)
        if hits:
            found.append(Suggestion(text=" ".join(candidate), hits=hits))
            if len(found) == MAX_SUGGESTIONS:
                break
    return tuple(found)
