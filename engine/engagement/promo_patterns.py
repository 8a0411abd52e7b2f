"""Promo-code patterns: the look-alike-free alphabets, the check character, drawing and rendering codes.

A pattern such as ``MAL-####-????`` has slots (``#`` digit, ``?`` letter,
``*`` either) drawn from alphabets without look-alikes (no 0/O, 1/I, 2/Z,
5/S, 8/B), and every generated code ends in a check character: a weighted sum
of the slots modulo 29 (the size of the whole alphabet, a prime), which
catches any single wrong character and any two neighbours swapped before the
database is asked. Codes are numbers drawn without replacement from the
pattern's index space with the OS's CSPRNG, so a batch never repeats itself
and a printed code cannot be guessed from its neighbours; rendering goes by
tables of whole blocks of slots, so a million codes take about a second.
"""
from __future__ import annotations

import os
import random
import re
from array import array
from collections.abc import Iterable
from dataclasses import dataclass

DIGITS = "23456789"
LETTERS = "ACDEFGHJKLMNPQRTUVWXY"
EITHER = DIGITS + LETTERS  # 29 characters: a prime modulus for the check character
SLOTS = {"#": DIGITS, "?": LETTERS, "*": EITHER}
_INDEX = {c: i for i, c in enumerate(EITHER)}
MAX_COUNT = 1_000_000
MAX_CODE = 64


class PatternError(ValueError):
    def __init__(self, message: str, details: dict | None = None):
        super().__init__(message)
        self.details = details


def draw(capacity: int, count: int) -> list[int]:
    """``count`` different numbers below ``capacity`` from the OS's CSPRNG (one read per round, not per number)."""
    if count * 4 > capacity:  # a dense draw: shuffle the whole space instead of rejecting repeats
        return random.SystemRandom().sample(range(capacity), count)
    chosen: dict[int, None] = {}
    if capacity < 1 << 48:  # 64-bit draws: the modulo's bias is below 2**-16 of a code's chance
        while len(chosen) < count:
            words = array("Q", os.urandom(8 * (count - len(chosen))))
            chosen.update(dict.fromkeys([w % capacity for w in words]))
        return list(chosen)[:count]
    width = (capacity.bit_length() + 7) // 8 + 8  # 64 spare bits: the modulo's bias is below 2**-64
    while len(chosen) < count:
        need = count - len(chosen)
        raw = os.urandom(width * need)
        chosen.update(dict.fromkeys(int.from_bytes(raw[i:i + width], "big") % capacity
                                    for i in range(0, len(raw), width)))
    return list(chosen)[:count]


@dataclass(frozen=True)
class Pattern:
    text: str

    @property
    def slots(self) -> list[str]:
        return [SLOTS[c] for c in self.text if c in SLOTS]

    @property
    def capacity(self) -> int:
        total = 1
        for alphabet in self.slots:
            total *= len(alphabet)
        return total

    def regex(self) -> re.Pattern:
        parts = [f"[{SLOTS[c]}]" if c in SLOTS else re.escape(c) for c in self.text]
        return re.compile("".join(parts) + f"[{EITHER}]")

    def render(self, index: int) -> str:
        """The code number ``index`` (0 ≤ index < capacity), check character included."""
        return self.renderer()(index)

    def renderer(self):
        """index → code, by tables of the rendered blocks of slots (a few divmods per code, not one per slot)."""
        blocks, block, size = [], [], 1
        pieces: list[tuple[str, str | None]] = []  # (literal prefix, slot alphabet or None for the tail)
        prefix = ""
        for c in self.text:
            if c in SLOTS:
                pieces.append((prefix, SLOTS[c]))
                prefix = ""
            else:
                prefix += c
        for number in range(len(pieces) - 1, -1, -1):  # from the right: the last slot varies fastest
            alphabet = pieces[number][1]
            if block and size * len(alphabet) > _BLOCK_SIZE:
                blocks.append(block)
                block, size = [], 1
            block.insert(0, number)
            size *= len(alphabet)
        blocks.append(block)
        blocks.reverse()
        tables = [_block_table([pieces[n] for n in b], b[0]) for b in blocks]
        tail = prefix
        radices = [len(t) for t in tables]

        if len(tables) == 1:
            (only,) = tables
            return lambda index: only[index][0] + tail + EITHER[only[index][1] % _MOD]
        if len(tables) == 2:  # the usual pattern: unrolled, it renders a million codes in about a second
            high, low = tables
            radix = len(low)

            def render_two(index: int) -> str:
                h, l = divmod(index, radix)
                (h_text, h_sum), (l_text, l_sum) = high[h], low[l]
                return f"{h_text}{l_text}{tail}{EITHER[(h_sum + l_sum) % _MOD]}"
            return render_two

        def render(index: int) -> str:
            parts, total = [], 0
            for table, radix in zip(reversed(tables), reversed(radices)):
                index, digit = divmod(index, radix)
                text_, weight = table[digit]
                parts.append(text_)
                total += weight
            parts.reverse()
            return "".join(parts) + tail + EITHER[total % _MOD]
        return render


_BLOCK_SIZE = 250_000
_MOD = 29


def _block_table(pieces: list[tuple[str, str]], first_slot: int) -> list[tuple[str, int]]:
    """Every filling of consecutive slots: (text with the literals before each slot, weighted sum)."""
    table = [("", 0)]
    for offset, (prefix, alphabet) in enumerate(pieces):
        weight = first_slot + offset + 1
        table = [(text_ + prefix + c, total + weight * _INDEX[c]) for text_, total in table for c in alphabet]
    return table


def check_character(slots: Iterable[str]) -> str:
    return EITHER[sum((weight + 1) * _INDEX[c] for weight, c in enumerate(slots)) % len(EITHER)]


def check_ok(pattern: Pattern, code: str) -> bool:
    slots = [code[i] for i, c in enumerate(pattern.text) if c in SLOTS]
    return check_character(slots) == code[-1]


def parse_pattern(pattern: str, count: int) -> Pattern:
    """The pattern, refused with a sentence when it is malformed or cannot hold ``count`` codes."""
    pattern = (pattern or "").strip().upper()
    parsed = Pattern(pattern)
    if not parsed.slots:
        raise PatternError("a pattern needs at least one slot: # for a digit, ? for a letter, * for either")
    if len(pattern) + 1 > MAX_CODE:
        raise PatternError(f"a pattern may be at most {MAX_CODE - 1} characters long (the check character is added)")
    bad = sorted({c for c in pattern if c not in SLOTS and not (c.isascii() and (c.isalnum() or c in "-_."))})
    if bad:
        raise PatternError(f"a pattern may hold only letters, digits, '-', '_', '.' and the slots # ? *; "
                         f"not {' '.join(bad)}")
    if not 1 <= count <= MAX_COUNT:
        raise PatternError(f"a batch holds 1 to {MAX_COUNT:,} codes, not {count:,}")
    if count > parsed.capacity:
        raise PatternError(f"the pattern {pattern} can hold only {parsed.capacity:,} different codes, "
                         f"fewer than the {count:,} asked for: add slots (# ? *) or ask for fewer",
                         details={"capacity": parsed.capacity})
    return parsed


def normalise(code: str) -> str:
    """What a member typed, as stored: upper case, no spaces."""
    return "".join((code or "").split()).upper()
