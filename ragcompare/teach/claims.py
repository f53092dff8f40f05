"""Verdicts of the course's claims table: a measured interval set against a claimed range, value or
bound (notebook 05)."""

from __future__ import annotations

from ragcompare.types import InvalidInputError

NOT_OFFLINE = "not measurable offline"


def verdict(low: float, high: float, *, within: tuple[float, float] | None = None,
            equals: float | None = None, at_least: float | None = None) -> str:
    """Whether the measured interval ``[low, high]`` supports a claim, given as exactly one of:
    ``within=(lo, hi)`` (the claim is a range: holds when the interval lies inside it), ``equals=x``
    (holds when the interval contains ``x``) or ``at_least=x`` (holds when the whole interval is
    ``>= x``). An interval that straddles the claim is "inconclusive"."""
    if sum(v is not None for v in (within, equals, at_least)) != 1:
        raise InvalidInputError("give exactly one of within=, equals=, at_least=")
    if low > high:
        raise InvalidInputError(f"interval [{low}, {high}] is reversed")
    if within is not None:
        lo, hi = within
        if lo <= low and high <= hi:
            return "holds"
        if high < lo:
            return "does not hold (lower here)"
        if low > hi:
            return "does not hold (higher here)"
        return "inconclusive (interval straddles the range)"
    if equals is not None:
        if low <= equals <= high:
            return "holds (interval contains the claim)"
        return "does not hold (higher here)" if low > equals else "does not hold (lower here)"
    if low >= at_least:
        return "holds"
    if high < at_least:
        return "does not hold"
    return "inconclusive (interval includes the bound)"
