"""Free text as the study keeps it: one rule for every way text comes in.

Text typed on a page, sent to the API, entered in the admin, given to a command or read
from an imported file is normalised to Unicode NFC (so the same word is always stored
the same way, and compares, sorts and searches as typed) and refused if it holds a
character that has no place in a record: a control character (C0, DEL or C1), a lone
surrogate or one of the two non-characters U+FFFE and U+FFFF. Multi-line text may hold
tab and line breaks (a carriage return and line feed pair is kept as one line feed);
single-line text may hold neither.

Such characters cannot be written to an XML export, are invisible on every page, and
once stored stay in the append-only audit trail for good; refusing them where they
arrive keeps every record printable and exportable.
"""

from __future__ import annotations

import unicodedata

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

#: What multi-line text may hold besides printable characters.
MULTILINE_CONTROLS = frozenset("\t\n")

_NONCHARACTERS = frozenset("\ufffe\uffff")

SINGLE_LINE_RULE = _(
    "Enter a single line of text without control characters (found %(character)s at "
    "position %(position)s)."
)
MULTILINE_RULE = _(
    "Enter text without control characters; only tabs and line breaks are allowed "
    "(found %(character)s at position %(position)s)."
)


def forbidden_character(value: str, *, multiline: bool) -> tuple[int, str] | None:
    """The first character of ``value`` that the rule refuses (1-based position and the
    character), or None."""
    allowed = MULTILINE_CONTROLS if multiline else frozenset()
    for index, char in enumerate(value):
        if char in allowed:
            continue
        if unicodedata.category(char) in {"Cc", "Cs"} or char in _NONCHARACTERS:
            return index + 1, char
    return None


def clean_free_text(value: str, *, multiline: bool = False) -> str:
    """``value`` normalised to NFC, line breaks as line feeds where it may span lines.

    Raises ``ValidationError`` (code ``control_character``) stating the rule and naming
    the first refused character by its code point.
    """
    if multiline:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    found = forbidden_character(value, multiline=multiline)
    if found is not None:
        position, char = found
        raise ValidationError(
            MULTILINE_RULE if multiline else SINGLE_LINE_RULE,
            code="control_character",
            params={"character": f"U+{ord(char):04X}", "position": position},
        )
    return unicodedata.normalize("NFC", value)
