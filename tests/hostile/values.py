"""Hostile values for every kind of field a form or a serializer has.

Each field is classified by introspection (:func:`kind_of`); a field of a kind this
module does not know fails the coverage test, so a new field type gets a strategy
before it can reach the pages unexamined.
"""

from __future__ import annotations

import datetime as dt
import string
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django import forms
from hypothesis import strategies as st
from rest_framework import serializers

SQL_INJECTION = [
    "'; DROP TABLE participants_participant; --",
    "1' OR '1'='1",
    '" OR ""="',
    "1; SELECT pg_sleep(5); --",
    "' UNION SELECT password, username FROM accounts_user --",
    "%' AND 1=0 UNION SELECT NULL, NULL --",
    "'); COPY (SELECT '') TO PROGRAM 'id'; --",
    "\\'; DELETE FROM audit; --",
]
XSS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "'><svg/onload=alert(1)>",
    "javascript:alert(1)",
    "</textarea><script>alert(1)</script>",
    "{{ request.user.password }}{% debug %}",
]
UNICODE = [
    "\u202eevil\u202c override",
    "مرحبا بالعالم",
    "שלום עולם",
    "日本語の入力です。山田花子",
    "ｶﾀｶﾅ ﾊﾝｶｸ",
    "😀🧪👩\u200d⚕️",
    "👨\u200d👩\u200d👧\u200d👦",
    "e\u0301 a\u0308",
    "\u200b\u200c\u200d\ufeff",
    "line\u2028separator\u2029",
    "Z\u0337\u0322\u031ba\u0338l\u0337g\u0334o\u0336",
    "𝓤𝓷𝓲𝓬𝓸𝓭𝓮",
    "\U0010fffd\uffff\ufffe",
]
CONTROL = ["\x00", "a\x00b", "\x00" * 8, "\x01\x02\x1b[31mred", "\r\n\r\n", "\t", " ", "", "\x7f"]
FORMAT_AND_PATHS = [
    "%s%s%s%n",
    "%(password)s",
    "{0.__class__.__mro__}",
    "${jndi:ldap://127.0.0.1/a}",
    "../../../../etc/passwd",
    "..%2f..%2f..%2fetc%2fpasswd",
    "=cmd|' /C calc'!A0",
    "@SUM(1+1)",
    "null",
    "None",
    "undefined",
    "true",
    "[]",
    "{}",
]
FIXED_TEXT = SQL_INJECTION + XSS + UNICODE + CONTROL + FORMAT_AND_PATHS

NUMBERS = [
    "-1",
    "0",
    "-0",
    "1",
    str(-(2**31)),
    str(2**31),
    str(2**63),
    str(10**30),
    str(-(10**30)),
    "1.5",
    "1e3",
    "1E-3",
    " 7 ",
    "٣",
    "３",
    "0x1F",
    "1_000",
    "NaN",
    "sNaN",
    "Infinity",
    "-Infinity",
    "1e1000",
    "9" * 60,
    "0." + "0" * 40 + "1",
    "1,5",
    "１２．５",
    "--1",
    "+5",
    "",
]
DATES = [
    "2026-02-30",
    "2026-13-01",
    "2026-00-10",
    "0000-01-01",
    "0001-01-01",
    "9999-12-31",
    "10000-01-01",
    "-2026-01-01",
    "2026-1-1",
    "20260101",
    "2026/03/01",
    "01/03/2026",
    "２０２６-０３-０１",
    "2026-03-01T00:00:00",
    "2026-03-01\x00",
    "today",
    "",
]
DATETIMES = [
    "2026-03-01T25:00",
    "2026-03-01T10:00:00+99:00",
    "2026-03-01 10:00",
    "2026-03-01T10:00:00Z",
    "2026-03-01T10:00:00.123456789",
    "0001-01-01T00:00",
    "9999-12-31T23:59",
    "2026-03-08T02:30",
    "1970-01-01T00:00:00+00:00",
    "2026-03-01",
    "",
]
TIMES = ["25:00", "12:60", "-1:00", "12:00:00.9999999", "noon", "24:00", "23:59:59", "00:00", ""]
BOOLEANS = ["True", "False", "true", "false", "1", "0", "on", "off", "yes", "", "maybe", "None"]


@dataclass(frozen=True)
class Kind:
    """What a field takes: text, a number, a date, a choice, a flag or a file."""

    name: str
    max_length: int | None = None
    choices: tuple[str, ...] = ()
    multiple: bool = False


def _choices(raw: Any) -> tuple[str, ...]:
    values: list[str] = []
    for key, label in raw:
        if isinstance(label, list | tuple):
            values.extend(str(k) for k, _ in label)
        else:
            values.append(str(key))
    return tuple(v for v in values if v != "")


def kind_of(field: Any) -> Kind:
    """Classify a Django form field or a DRF serializer field; unknown types raise."""
    if isinstance(field, forms.Field):
        return _django_kind(field)
    if isinstance(field, serializers.Field):
        return _drf_kind(field)
    raise TypeError(f"Not a form or serializer field: {field!r}")


def _django_kind(field: forms.Field) -> Kind:
    if isinstance(field, forms.FileField):
        return Kind("file")
    if isinstance(field, forms.MultipleChoiceField):
        return Kind("choice", choices=_choices(field.choices), multiple=True)
    if isinstance(field, forms.ModelChoiceField):
        return Kind(
            "choice", choices=tuple(str(pk) for pk in field.queryset.values_list("pk", flat=True))
        )
    if isinstance(field, forms.ChoiceField):
        return Kind("choice", choices=_choices(field.choices))
    if isinstance(field, forms.BooleanField):
        return Kind("boolean")
    if isinstance(field, forms.IntegerField):
        return Kind("integer")
    if isinstance(field, forms.DecimalField | forms.FloatField):
        return Kind("decimal")
    if isinstance(field, forms.DateTimeField):
        return Kind("datetime")
    if isinstance(field, forms.DateField):
        return Kind("date")
    if isinstance(field, forms.TimeField):
        return Kind("time")
    if isinstance(field, forms.CharField):
        return Kind("text", max_length=field.max_length)
    raise TypeError(f"No hostile strategy for form field type {type(field).__name__}")


def _drf_kind(field: serializers.Field) -> Kind:
    if isinstance(field, serializers.ListSerializer):
        # A list of objects: each object's fields (``choices``) get hostile values.
        return Kind("object", choices=tuple(field.child.fields), multiple=True)
    if isinstance(field, serializers.ListField):
        child = _drf_kind(field.child)
        return Kind(child.name, max_length=child.max_length, choices=child.choices, multiple=True)
    if isinstance(field, serializers.ChoiceField):
        return Kind("choice", choices=tuple(str(c) for c in field.choices))
    if isinstance(field, serializers.BooleanField):
        return Kind("boolean")
    if isinstance(field, serializers.IntegerField):
        return Kind("integer")
    if isinstance(field, serializers.DecimalField | serializers.FloatField):
        return Kind("decimal")
    if isinstance(field, serializers.DateTimeField):
        return Kind("datetime")
    if isinstance(field, serializers.DateField):
        return Kind("date")
    if isinstance(field, serializers.TimeField):
        return Kind("time")
    if isinstance(field, serializers.CharField):
        return Kind("text", max_length=field.max_length)
    raise TypeError(f"No hostile strategy for serializer field type {type(field).__name__}")


# -- strategies ------------------------------------------------------------------------

#: Everything a browser can send: no surrogates (they cannot be encoded as UTF-8).
ANY_CHARACTER = st.characters(exclude_categories=("Cs",))
PRINTABLE = st.characters(exclude_categories=("Cs", "Cc", "Zl", "Zp"))


def hostile_text(max_length: int | None) -> st.SearchStrategy[str]:
    """Injections, exotic scripts, control characters and strings past the length limit."""
    limit = max_length or 500
    over = [
        "A" * (limit + 1),
        "あ" * (limit + 1),
        "😀" * (limit + 1),
        "x" * 100_000,
        " " * (limit + 5) + "x",
    ]
    at_limit = ["A" * limit, "日" * limit, "😀" * limit]
    return st.one_of(
        st.sampled_from(FIXED_TEXT),
        st.sampled_from(over + at_limit),
        st.text(ANY_CHARACTER, max_size=min(limit + 10, 600)),
        st.text(PRINTABLE, min_size=1, max_size=min(limit, 200)),
        st.builds(
            lambda a, b: a + "\x00" + b,
            st.text(PRINTABLE, max_size=10),
            st.text(PRINTABLE, max_size=10),
        ),
    )


def _as_text(values: list[str]) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(values), st.text(ANY_CHARACTER, max_size=30))


def hostile_web_value(kind: Kind) -> st.SearchStrategy[Any]:
    """A hostile value as a browser posts it: text, or a list of texts for repeated keys."""
    single: st.SearchStrategy[Any]
    if kind.name == "text":
        single = hostile_text(kind.max_length)
    elif kind.name == "integer":
        single = st.one_of(_as_text(NUMBERS), st.integers().map(str))
    elif kind.name == "decimal":
        single = st.one_of(
            _as_text(NUMBERS),
            st.decimals(allow_nan=True, allow_infinity=True).map(str),
            st.floats().map(repr),
        )
    elif kind.name == "date":
        single = st.one_of(_as_text(DATES), st.dates().map(dt.date.isoformat))
    elif kind.name == "datetime":
        single = st.one_of(
            _as_text(DATETIMES), st.datetimes().map(lambda d: d.isoformat(timespec="minutes"))
        )
    elif kind.name == "time":
        single = st.one_of(_as_text(TIMES), st.times().map(dt.time.isoformat))
    elif kind.name == "boolean":
        single = _as_text(BOOLEANS)
    elif kind.name == "choice":
        valid = list(kind.choices) or ["x"]
        single = st.one_of(
            st.sampled_from(valid),
            st.sampled_from(valid).map(str.upper),
            st.sampled_from(valid).map(lambda v: f" {v} "),
            hostile_text(40),
        )
        if kind.multiple:
            return st.lists(st.one_of(st.sampled_from(valid), hostile_text(40)), max_size=12)
    elif kind.name == "file":
        return hostile_file()
    else:
        raise TypeError(f"No web strategy for {kind}")
    return st.one_of(single, st.lists(single, min_size=2, max_size=3))


def hostile_file() -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.binary(max_size=2_000),
        st.sampled_from(
            [
                b"",
                b"\xff\xfe\x00s\x00e\x00q",
                b"sequence,block,block_size,arm\n1,1,3,low\x00\n",
                b"sequence,block,block_size,arm\n" + b"1,1,3,=cmd|' /C calc'!A0\n",
                b"sequence,block,block_size,arm\n" + b"9" * 5_000 + b",1,3,low\n",
                b"sequence,block,block_size,arm\n-1,-1,-3,low\n",
                b"sequence,block,block_size,arm\n1,1,3,low\n" * 3,
                b'"unterminated,1,3,low\n',
                b"\xef\xbb\xbfsequence,block,block_size,arm\n1,1,3,low\n2,1,3,low\n3,1,3,high\n",
                b"a" * 1_000_001,
            ]
        ),
        st.text(ANY_CHARACTER, max_size=500).map(lambda t: t.encode("utf-8")),
    )


#: A JSON value of the wrong type, or of the right type with a hostile content.
WRONG_JSON_TYPES: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([2**63, -(2**63) - 1, 10**40, 0.1, -0.0, 1e308, 5e-324]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(string.ascii_letters, max_size=5), st.integers(), max_size=2),
    st.sampled_from([{"$gt": ""}, {"__proto__": {"admin": True}}, [[[[[]]]]], [None]]),
)


def hostile_json_value(kind: Kind) -> st.SearchStrategy[Any]:
    """A hostile value as an API client sends it in a JSON body."""
    single: st.SearchStrategy[Any]
    if kind.name == "text":
        single = hostile_text(kind.max_length)
    elif kind.name == "integer":
        single = st.one_of(
            st.integers(),
            st.sampled_from([2**31, 2**63, 10**30, -(10**30), 1.5, 1e20, True]),
            _as_text(NUMBERS),
        )
    elif kind.name == "decimal":
        single = st.one_of(
            st.floats(allow_nan=False),
            st.decimals(allow_nan=False, allow_infinity=False).map(str),
            _as_text(NUMBERS),
            st.integers(),
        )
    elif kind.name == "date":
        single = st.one_of(_as_text(DATES), st.dates().map(dt.date.isoformat))
    elif kind.name == "datetime":
        single = st.one_of(_as_text(DATETIMES), st.datetimes().map(dt.datetime.isoformat))
    elif kind.name == "time":
        single = st.one_of(_as_text(TIMES), st.times().map(dt.time.isoformat))
    elif kind.name == "boolean":
        single = st.one_of(_as_text(BOOLEANS), st.sampled_from([0, 1, 2, -1, 0.5]))
    elif kind.name == "choice":
        valid = list(kind.choices) or ["x"]
        single = st.one_of(
            st.sampled_from(valid),
            st.sampled_from(valid).map(str.upper),
            hostile_text(40),
        )
    elif kind.name == "object":
        single = st.dictionaries(
            st.sampled_from(list(kind.choices) or ["x"]),
            st.one_of(hostile_text(None), WRONG_JSON_TYPES),
            max_size=len(kind.choices) + 1,
        )
    else:
        raise TypeError(f"No JSON strategy for {kind}")
    if kind.multiple:
        return st.one_of(st.lists(single, max_size=12), single, WRONG_JSON_TYPES)
    return st.one_of(single, single, WRONG_JSON_TYPES)


#: Keys a client might add hoping the server stores them.
EXTRA_KEYS = [
    "id",
    "pk",
    "participant",
    "participant_id",
    "site",
    "site_id",
    "status",
    "arm",
    "subject_id",
    "registered_by",
    "randomization_number",
    "eligible",
    "failed_criteria",
    "confirmed_at",
    "performed_by",
    "created_at",
    "voided_at",
    "is_superuser",
    "role",
    "__proto__",
    "x" * 300,
    "名前",
    "a\x00b",
]


def extra_fields(json: bool) -> st.SearchStrategy[dict[str, Any]]:
    values: st.SearchStrategy[Any] = hostile_text(40)
    if json:
        values = st.one_of(values, WRONG_JSON_TYPES)
    return st.dictionaries(
        st.one_of(
            st.sampled_from(EXTRA_KEYS),
            st.text(string.ascii_lowercase + "_", min_size=1, max_size=12),
        ),
        values,
        max_size=3,
    )


def decimal_or_none(value: Any) -> Decimal | None:
    return None if value in (None, "") else Decimal(str(value))
