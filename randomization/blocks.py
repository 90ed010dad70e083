"""Permuted-block randomization lists, without a database.

Protocol, "Allocation": participants are allocated 2:1 to low dose and high dose by
permuted blocks whose sizes are drawn at random from {3, 6}, from a list generated before
the first participant with a recorded seed. The ratio, the block sizes and the arm names
are study settings, so every function here takes them as arguments. A list may also be
imported from an allocation table made by the trial statistician outside the EDC.
"""

from __future__ import annotations

import csv
import io
import random
import re
import secrets
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

__all__ = [
    "CSV_COLUMNS",
    "AllocationTableError",
    "Slot",
    "check_balance",
    "check_block_sizes",
    "generate_list",
    "new_seed",
    "parse_allocation_csv",
    "parse_block_sizes",
    "parse_ratio",
    "to_csv",
]

CSV_COLUMNS: tuple[str, ...] = ("sequence", "block", "block_size", "arm")

_WHOLE_NUMBER = re.compile(r"[0-9]+")
#: The longest number an allocation table may hold (sequence, block, block size).
MAX_NUMBER_DIGITS = 9


@dataclass(frozen=True)
class Slot:
    """One line of a randomization list: the arm given to the n-th randomized participant.

    `sequence` is the randomization number (1, 2, 3... without gaps), `block` the number of
    the permuted block the slot belongs to, and `block_size` the size of that block.
    """

    sequence: int
    block: int
    block_size: int
    arm: str


class AllocationTableError(ValueError):
    """An imported allocation table breaks the protocol's list rules; `errors` lists them all.

    Each error is one line-numbered sentence, so the statistician can correct the whole
    file in one pass instead of meeting the problems one at a time.
    """

    def __init__(self, errors: list[str]) -> None:
        self.errors = list(errors)
        super().__init__("\n".join(self.errors))


# -- settings: ratio, block sizes, arms --------------------------------------------------


def _ratio_text(ratio: Sequence[int]) -> str:
    return ":".join(str(share) for share in ratio)


def _is_whole_number(value: object) -> bool:
    # bool is a subclass of int, but True is never a meaningful count or seed.
    return isinstance(value, int) and not isinstance(value, bool)


def _check_ratio(ratio: Sequence[int]) -> None:
    """Enforce that an allocation ratio has two or more parts, each a positive whole number."""
    if len(ratio) < 2:
        raise ValueError(
            f"the allocation ratio must have one part per arm, at least two (such as 2:1); "
            f"got {_ratio_text(ratio) or 'nothing'}"
        )
    for share in ratio:
        if not _is_whole_number(share) or share < 1:
            raise ValueError(
                f"each part of the allocation ratio must be a whole number of 1 or more; "
                f"got {share!r} in {_ratio_text(ratio)}"
            )


def _check_arms(arms: Sequence[str], ratio: Sequence[int]) -> None:
    """Enforce one distinct, named arm per part of the allocation ratio."""
    if len(arms) != len(ratio):
        raise ValueError(
            f"{len(arms)} arm(s) ({', '.join(arms) or 'none'}) given for the ratio "
            f"{_ratio_text(ratio)}, which has {len(ratio)} parts; give one arm per part "
            f"of the ratio, in the same order"
        )
    for arm in arms:
        if not isinstance(arm, str) or not arm.strip():
            raise ValueError(f"each arm needs a name; got {arm!r} in {', '.join(map(repr, arms))}")
    if len(set(arms)) != len(arms):
        raise ValueError(f"arm names must be distinct; got {', '.join(arms)}")


def parse_ratio(text: str) -> tuple[int, ...]:
    """Read an allocation ratio such as "2:1" (protocol: low dose and high dose 2:1).

    Each part must be a whole number of 1 or more, and there must be at least two parts:
    a ratio allocates between arms, and an arm with share 0 would never be allocated.
    """
    expected = 'expected whole numbers of 1 or more separated by ":", such as "2:1"'
    if not text or not text.strip():
        raise ValueError(f"the allocation ratio is empty; {expected}")
    parts = [part.strip() for part in text.split(":")]
    ratio: list[int] = []
    for part in parts:
        if not _WHOLE_NUMBER.fullmatch(part):
            raise ValueError(
                f'the allocation ratio "{text}" has "{part}", which is not a whole number; '
                f"{expected}"
            )
        share = int(part)
        if share == 0:
            raise ValueError(
                f'the allocation ratio "{text}" has a 0, so one arm would never be allocated; '
                f"{expected}"
            )
        ratio.append(share)
    if len(ratio) < 2:
        raise ValueError(
            f'the allocation ratio "{text}" has a single number; {expected}, one part per arm'
        )
    return tuple(ratio)


def parse_block_sizes(text: str) -> tuple[int, ...]:
    """Read the permuted-block sizes such as "3,6" (protocol: sizes drawn from {3, 6}).

    Returns the sizes sorted, each once. Each must be a whole number of 1 or more; whether
    each fits the allocation ratio is checked by `check_block_sizes`, which needs the ratio.
    """
    expected = 'expected whole numbers of 1 or more separated by commas, such as "3,6"'
    if not text or not text.strip():
        raise ValueError(f"the block sizes are empty; {expected}")
    sizes: set[int] = set()
    for part in (part.strip() for part in text.split(",")):
        if not part:
            raise ValueError(f'the block sizes "{text}" have an empty entry; {expected}')
        if not _WHOLE_NUMBER.fullmatch(part):
            raise ValueError(
                f'the block sizes "{text}" have "{part}", which is not a whole number; {expected}'
            )
        size = int(part)
        if size == 0:
            raise ValueError(f'the block sizes "{text}" have a size of 0; {expected}')
        sizes.add(size)
    return tuple(sorted(sizes))


def check_block_sizes(block_sizes: Sequence[int], ratio: Sequence[int]) -> None:
    """Enforce that every block size is a positive multiple of the sum of the ratio.

    Protocol: permuted blocks keep the ratio exactly inside each block, which is only
    possible when the block holds a whole number of ratio repetitions (2:1 allows 3, 6, 9...).
    Sizes must be distinct, because a repeated size would silently weight the random draw.
    """
    _check_ratio(ratio)
    total = sum(ratio)
    allowed = f"{total}, {2 * total}, {3 * total}..."
    if len(block_sizes) == 0:
        raise ValueError(
            f"at least one block size is needed; for the ratio {_ratio_text(ratio)} "
            f"the sizes allowed are {allowed}"
        )
    for size in block_sizes:
        if not _is_whole_number(size) or size < 1 or size % total != 0:
            raise ValueError(
                f"block size {size!r} does not fit the ratio {_ratio_text(ratio)}: a block must "
                f"hold a whole number of {total}-slot repetitions of the ratio, so the sizes "
                f"allowed are {allowed}"
            )
    if len(set(block_sizes)) != len(block_sizes):
        raise ValueError(f"block sizes must be distinct; got {', '.join(map(str, block_sizes))}")


# -- generation ---------------------------------------------------------------------------


def new_seed() -> int:
    """Draw a seed from the operating system's secure random source.

    Protocol: the list is generated with a recorded seed. The seed itself must be
    unpredictable, so nobody at a site can regenerate the list; once recorded, the same
    seed and settings regenerate the same list for verification.
    """
    return secrets.randbits(63)


def _below(rng: random.Random, n: int) -> int:
    # Built on rng.random() alone: Python guarantees that random() yields the same sequence
    # for the same seed across versions, and makes no such promise for shuffle(), choice()
    # or randrange(). The bias of flooring a 53-bit float is below 1e-15 for block-sized n.
    return min(int(rng.random() * n), n - 1)


def _choice(rng: random.Random, options: Sequence[int]) -> int:
    return options[_below(rng, len(options))]


def _shuffle(rng: random.Random, items: list[str]) -> None:
    # Fisher-Yates (Durstenfeld): every ordering of the block equally likely.
    for i in range(len(items) - 1, 0, -1):
        j = _below(rng, i + 1)
        items[i], items[j] = items[j], items[i]


def _require(name: str, value: int, minimum: int) -> None:
    if not _is_whole_number(value) or value < minimum:
        raise ValueError(f"{name} must be a whole number of {minimum} or more; got {value!r}")


def generate_list(
    *,
    seed: int,
    length: int,
    ratio: tuple[int, ...] = (2, 1),
    block_sizes: tuple[int, ...] = (3, 6),
    arms: tuple[str, ...] = ("low", "high"),
    start_sequence: int = 1,
    start_block: int = 1,
) -> list[Slot]:
    """Generate a permuted-block randomization list from a recorded seed.

    Protocol: random allocation in the given ratio (2:1 low:high) by permuted blocks whose
    size is drawn at random from `block_sizes` ({3, 6}); each block holds the arms exactly in
    the ratio, in random order. The list is made of whole blocks, so it holds at least
    `length` slots and fewer than `length` plus the largest block size.

    The same seed and settings give the same list on any machine and Python version
    (only `random.Random(seed).random()` is used, whose sequence Python guarantees).
    Block sizes are sorted first, so their order in the setting does not change the list.

    To extend a list of N slots in B blocks, call again with a *fresh* seed (`new_seed()`),
    `start_sequence=N + 1` and `start_block=B + 1`, and record that seed too. Reusing the
    first seed would repeat the first list's blocks, which anyone holding the first list
    could then predict.
    """
    _require("the seed", seed, 0)
    _require("the list length", length, 1)
    _require("the first sequence number", start_sequence, 1)
    _require("the first block number", start_block, 1)
    _check_ratio(ratio)
    _check_arms(arms, ratio)
    check_block_sizes(block_sizes, ratio)

    rng = random.Random(seed)
    sizes = sorted(block_sizes)
    total = sum(ratio)
    slots: list[Slot] = []
    block = start_block
    while len(slots) < length:
        size = _choice(rng, sizes)
        block_arms = [
            arm
            for arm, share in zip(arms, ratio, strict=True)
            for _ in range(share * size // total)
        ]
        _shuffle(rng, block_arms)
        for arm in block_arms:
            slots.append(Slot(start_sequence + len(slots), block, size, arm))
        block += 1
    return slots


# -- balance -----------------------------------------------------------------------------


def _counts_text(counts: Sequence[int], arms: Sequence[str]) -> str:
    items = [f'{count} "{arm}"' for count, arm in zip(counts, arms, strict=True)]
    return ", ".join(items[:-1]) + " and " + items[-1]


def _imbalance(
    block: int, size: int, counts: Mapping[str, int], ratio: Sequence[int], arms: Sequence[str]
) -> str | None:
    """Describe how a complete block departs from the ratio, or None when it holds it."""
    total = sum(ratio)
    expected = [share * size // total for share in ratio]
    actual = [counts.get(arm, 0) for arm in arms]
    if actual == expected:
        return None
    return (
        f"block {block} has {_counts_text(actual, arms)}; a block of {size} must hold them "
        f"{_ratio_text(ratio)} ({_counts_text(expected, arms)})"
    )


def check_balance(slots: Iterable[Slot], ratio: Sequence[int], arms: Sequence[str]) -> None:
    """Enforce the permuted-block rule: every complete block holds the arms in the ratio.

    A block is complete when it has `block_size` slots. A block with fewer slots (a list
    cut short) is accepted as long as no arm already exceeds its share of the block, since
    the missing slots could still complete it; a block with more slots, mixed sizes or an
    unknown arm is refused. Raises ValueError naming every block at fault.
    """
    _check_ratio(ratio)
    _check_arms(arms, ratio)
    total = sum(ratio)
    blocks: dict[int, list[Slot]] = {}
    for slot in slots:
        blocks.setdefault(slot.block, []).append(slot)
    problems: list[str] = []
    for number, block_slots in blocks.items():
        sizes = sorted({slot.block_size for slot in block_slots})
        unknown = sorted({slot.arm for slot in block_slots} - set(arms))
        if len(sizes) > 1:
            problems.append(f"block {number} mixes block sizes {', '.join(map(str, sizes))}")
            continue
        if unknown:
            problems.append(
                f"block {number} has arm(s) {', '.join(unknown)}, not one of {', '.join(arms)}"
            )
            continue
        size = sizes[0]
        counts = Counter(slot.arm for slot in block_slots)
        if size < 1 or size % total != 0:
            problems.append(
                f"block {number} has size {size}, not a multiple of {total}, the sum of the "
                f"ratio {_ratio_text(ratio)}"
            )
        elif len(block_slots) > size:
            problems.append(
                f"block {number} has {len(block_slots)} slots, more than its size {size}"
            )
        elif len(block_slots) == size:
            message = _imbalance(number, size, counts, ratio, arms)
            if message:
                problems.append(message)
        else:
            for arm, share in zip(arms, ratio, strict=True):
                if counts[arm] > share * size // total:
                    problems.append(
                        f'block {number} already has {counts[arm]} "{arm}" in '
                        f"{len(block_slots)} of its {size} slots, more than the "
                        f"{share * size // total} a block of {size} holds at {_ratio_text(ratio)}"
                    )
    if problems:
        raise ValueError("\n".join(problems))


# -- CSV ---------------------------------------------------------------------------------


def to_csv(slots: Iterable[Slot]) -> str:
    """Write a list as the allocation-table CSV: `sequence,block,block_size,arm`, `\\n` endings.

    The same format `parse_allocation_csv` reads, so an exported list can be re-imported.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for slot in slots:
        writer.writerow((slot.sequence, slot.block, slot.block_size, slot.arm))
    return buffer.getvalue()


@dataclass
class _OpenBlock:
    """A block being read from an allocation table, until its last line is seen."""

    number: int
    size: int | None
    last_line: int
    slots: int = 0
    arm_counts: Counter[str] = field(default_factory=Counter)
    arms_known: bool = True
    # A block whose lines could not all be attributed to it is not judged further:
    # the problem already reported is the one to fix.
    judged: bool = True


def _header_errors(line: int, header: list[str]) -> list[str]:
    names = [name.strip().lower() for name in header]
    expected = ", ".join(CSV_COLUMNS)
    if not set(names) & set(CSV_COLUMNS):
        return [
            f"line {line}: the header is missing; the first line must name the columns "
            f'{expected} (got "{",".join(header)}")'
        ]
    errors: list[str] = []
    for name in names:
        if name not in CSV_COLUMNS:
            errors.append(
                f'line {line}: column "{name}" is not part of an allocation table; the columns '
                f"are {expected}"
            )
    for name in sorted({name for name in names if names.count(name) > 1}):
        errors.append(f'line {line}: column "{name}" appears more than once')
    for name in CSV_COLUMNS:
        if name not in names:
            errors.append(f'line {line}: column "{name}" is missing; the columns are {expected}')
    return errors


def _whole_number(line: int, column: str, value: str, errors: list[str]) -> int | None:
    text = value.strip()
    if not _WHOLE_NUMBER.fullmatch(text):
        errors.append(f'line {line}: {column} "{text}" is not a whole number')
        return None
    if len(text) > MAX_NUMBER_DIGITS:
        # No list is that long; and Python refuses to read numbers of thousands of digits.
        errors.append(f"line {line}: {column} has more than {MAX_NUMBER_DIGITS} digits")
        return None
    return int(text)


def parse_allocation_csv(text: str, *, ratio: tuple[int, ...], arms: tuple[str, ...]) -> list[Slot]:
    """Read an allocation table made outside the EDC by the trial statistician.

    Protocol: the list can be imported from an external CSV. It must hold the same rules
    as a generated list: columns sequence, block, block_size and arm (in any order, none
    other); sequence numbers 1, 2, 3... without gaps; blocks numbered 1, 2, 3... without
    gaps, each on consecutive lines, complete, of one size that is a multiple of the
    ratio's sum, and holding the arms exactly in the ratio; every arm one of `arms`.

    Blank lines are ignored; a UTF-8 byte order mark and Windows line endings are accepted.
    Line numbers in messages are the lines of the file as an editor shows them. Raises
    AllocationTableError listing every problem found; a faulty header stops the reading,
    as the lines below it cannot be interpreted.
    """
    _check_ratio(ratio)
    _check_arms(arms, ratio)
    total = sum(ratio)
    ratio_text = _ratio_text(ratio)
    if text.startswith("\ufeff"):
        text = text[1:]

    errors: list[str] = []
    rows: list[tuple[int, list[str]]] = []
    reader = csv.reader(io.StringIO(text, newline=""))
    previous_end = 0
    try:
        for row in reader:
            # Messages name the line where a record starts, as the editor shows it.
            start, previous_end = previous_end + 1, reader.line_num
            if any(value.strip() for value in row):
                rows.append((start, row))
            if previous_end > start:
                errors.append(
                    f"line {start}: a quoted value runs on to line {previous_end}; "
                    f'check for a quotation mark (") that is not closed'
                )
    except csv.Error as exc:
        errors.append(f"line {previous_end + 1}: the file cannot be read as CSV ({exc})")
    if errors:
        raise AllocationTableError(errors)

    if not rows:
        raise AllocationTableError(
            [
                "the file is empty; expected a header line "
                f"{','.join(CSV_COLUMNS)} followed by one line per randomization slot"
            ]
        )
    header_line, header = rows[0]
    errors = _header_errors(header_line, header)
    if errors:
        raise AllocationTableError(errors)
    if len(rows) == 1:
        raise AllocationTableError(
            [f"line {header_line}: the file has a header but no randomization slots below it"]
        )
    position = {name.strip().lower(): index for index, name in enumerate(header)}

    slots: list[Slot] = []
    expected_sequence = 1
    next_block = 1
    seen_blocks: set[int] = set()
    current: _OpenBlock | None = None

    def close(block: _OpenBlock) -> None:
        if not block.judged or block.size is None:
            return
        if block.slots < block.size:
            errors.append(
                f"line {block.last_line}: block {block.number} is incomplete: "
                f"{block.slots} of {block.size} slots"
            )
        elif block.slots > block.size:
            errors.append(
                f"line {block.last_line}: block {block.number} has {block.slots} slots, "
                f"more than its block_size {block.size}"
            )
        elif block.arms_known:
            message = _imbalance(block.number, block.size, block.arm_counts, ratio, arms)
            if message:
                errors.append(f"line {block.last_line}: {message}")

    for line, row in rows[1:]:
        if len(row) != len(header):
            errors.append(
                f"line {line}: {len(row)} values, expected {len(header)} "
                f"({', '.join(name.strip().lower() for name in header)})"
            )
            expected_sequence += 1
            if current is not None:
                current.judged = False
            continue

        sequence = _whole_number(line, "sequence", row[position["sequence"]], errors)
        block = _whole_number(line, "block", row[position["block"]], errors)
        size = _whole_number(line, "block_size", row[position["block_size"]], errors)
        arm = row[position["arm"]].strip()

        if sequence is not None:
            if sequence != expected_sequence:
                errors.append(
                    f"line {line}: sequence {expected_sequence} expected, got {sequence} "
                    f"(sequence numbers run 1, 2, 3... without gaps)"
                )
            # Follow the file from here, so one gap is reported once, not on every line after.
            expected_sequence = sequence + 1
        else:
            expected_sequence += 1

        if size is not None and (size == 0 or size % total != 0):
            errors.append(
                f"line {line}: block_size {size} does not fit the ratio {ratio_text}: it must "
                f"be a multiple of {total} ({total}, {2 * total}, {3 * total}...)"
            )
            size = None

        if arm not in arms:
            errors.append(f'line {line}: arm "{arm}" is not one of {", ".join(arms)}')

        if block is None:
            if current is not None:
                current.judged = False
            continue

        if current is None or block != current.number:
            if current is not None:
                close(current)
            previous = current.number if current is not None else None
            current = _OpenBlock(number=block, size=size, last_line=line)
            if block in seen_blocks:
                errors.append(
                    f"line {line}: block {block} appears again after block {previous}; "
                    f"the slots of a block must be on consecutive lines"
                )
                current.judged = False
            elif block != next_block:
                errors.append(
                    f"line {line}: block {next_block} expected, got {block} "
                    f"(blocks are numbered 1, 2, 3... without gaps)"
                )
            seen_blocks.add(block)
            next_block = max(seen_blocks) + 1
        elif size is not None:
            if current.size is None:
                current.size = size
            elif size != current.size:
                errors.append(
                    f"line {line}: block_size {size} differs from block {block}'s size "
                    f"{current.size}"
                )

        current.slots += 1
        current.last_line = line
        if arm in arms:
            current.arm_counts[arm] += 1
        else:
            current.arms_known = False
        if sequence is not None and size is not None:
            slots.append(Slot(sequence, block, size, arm))

    if current is not None:
        close(current)
    if errors:
        raise AllocationTableError(errors)
    return slots
