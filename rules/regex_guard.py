"""Reject regular expressions that could make ``matches_regex`` slow (ReDoS).

Python's ``re`` has no timeout, so a pattern is accepted only when it cannot
backtrack catastrophically: no back-references, no repeated group that itself
contains a repeat or a multi-character alternation, at most a few unbounded
repeats, and a bounded length. Real rule patterns (SKU prefixes, group codes)
pass easily.
"""
from __future__ import annotations

import re

try:  # Python 3.11+: the parser lives here; sre_parse is deprecated
    from re import _constants as _sre
    from re import _parser as _sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover
    import sre_constants as _sre  # type: ignore[no-redef]
    import sre_parse as _sre_parse  # type: ignore[no-redef]

MAX_PATTERN_LENGTH = 200
MAX_UNBOUNDED_REPEATS = 3
_REPEATS = {_sre.MAX_REPEAT, _sre.MIN_REPEAT} | (
    {_sre.POSSESSIVE_REPEAT} if hasattr(_sre, "POSSESSIVE_REPEAT") else set())
_MAXREPEAT = _sre.MAXREPEAT


class UnsafePattern(ValueError):
    pass


def _children(op, av):
    """The sub-patterns directly inside one parsed node."""
    if op in _REPEATS:
        return [av[2]]
    if op is _sre.SUBPATTERN:
        return [av[-1]]
    if op is _sre.BRANCH:
        return list(av[1])
    if op in (_sre.ASSERT, _sre.ASSERT_NOT):
        return [av[1]]
    if op is _sre.GROUPREF_EXISTS:
        return [p for p in av[1:] if p is not None]
    if getattr(_sre, "ATOMIC_GROUP", None) is op:
        return [av]
    return []


def _walk(pattern, inside_repeat: bool, counts: dict) -> None:
    for op, av in pattern:
        if op in (_sre.GROUPREF, _sre.GROUPREF_EXISTS):
            raise UnsafePattern("back-references are not allowed")
        if op in _REPEATS:
            low, high, _ = av
            repeats_many = high is _MAXREPEAT or high > 1
            if high is _MAXREPEAT:
                counts["unbounded"] += 1
            if repeats_many and inside_repeat:
                raise UnsafePattern("a repeated part inside another repeated part (like (a+)+) "
                                    "can make matching extremely slow")
            _walk(av[2], inside_repeat or repeats_many, counts)
            continue
        if op is _sre.BRANCH and inside_repeat:
            raise UnsafePattern("alternatives (a|b) of several characters inside a repeated group "
                                "can make matching extremely slow; use separate conditions in an 'any' group")
        for child in _children(op, av):
            _walk(child, inside_repeat, counts)


def check_pattern(pattern: str) -> re.Pattern:
    """Compile ``pattern`` or raise ``UnsafePattern`` / ``re.error``."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise UnsafePattern(f"the pattern is longer than {MAX_PATTERN_LENGTH} characters")
    compiled = re.compile(pattern)
    counts = {"unbounded": 0}
    _walk(_sre_parse.parse(pattern), False, counts)
    if counts["unbounded"] > MAX_UNBOUNDED_REPEATS:
        raise UnsafePattern(f"more than {MAX_UNBOUNDED_REPEATS} open-ended repeats (* or +)")
    return compiled
