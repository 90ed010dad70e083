"""Submitting hostile data through the real pages and API, and judging what came back.

Each generated case runs inside a savepoint that is rolled back afterwards, so every
case starts from the same state. For each case:

- the answer is never a 5xx (the test client re-raises any exception a view lets out);
- a refusal (4xx, or a redirect with an error message) leaves every table as it was,
  the audit event tables included, and a 400 names the fields the form refuses;
- an acceptance stores exactly what the form or serializer cleaned, nothing else.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import functools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib.messages import constants as message_levels
from django.core.exceptions import ObjectDoesNotExist
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, models, transaction
from django.http import HttpResponse
from django.utils.datastructures import MultiValueDict
from django.utils.html import escape
from hypothesis import strategies as st
from rest_framework import serializers

from tests.clock import at

from .values import Kind, extra_fields, hostile_json_value, hostile_web_value, kind_of

#: Tables a refused request may still write: sessions (renewed on every request) and
#: the sign-in lockout's counters (a wrong password counts, by design).
VOLATILE_TABLES = ("django_session", "axes_")

NON_FIELD = {"__all__", "non_field_errors"}


# -- the state of the database ---------------------------------------------------------


@functools.cache
def _count_statement() -> tuple[list[str], str]:
    tables = sorted(
        t for t in connection.introspection.table_names() if not t.startswith(VOLATILE_TABLES)
    )
    quote = connection.ops.quote_name
    columns = ", ".join(f"(SELECT count(*) FROM {quote(t)})" for t in tables)
    return tables, f"SELECT {columns}"


def row_counts() -> dict[str, int]:
    """Rows in every table (audit event tables included), in one round trip."""
    tables, statement = _count_statement()
    with connection.cursor() as cursor:
        cursor.execute(statement)
        return dict(zip(tables, cursor.fetchone(), strict=True))


def changed_tables(before: dict[str, int], after: dict[str, int]) -> dict[str, tuple[int, int]]:
    return {t: (before[t], after[t]) for t in before if before[t] != after[t]}


@contextlib.contextmanager
def rolled_back(client: Any = None) -> Iterator[None]:
    """Run one case in a savepoint and undo whatever it wrote, the client's cookies too
    (a session whose key was cycled is rolled back with the rest)."""
    cookies = copy.deepcopy(client.cookies) if client is not None else None
    try:
        with transaction.atomic():
            # As Django's TestCase does for its own blocks: a service that commits on its
            # own (``atomic(durable=True)``, randomization) runs here as a savepoint.
            connection.atomic_blocks[-1]._from_testcase = True
            yield
            transaction.set_rollback(True)
    finally:
        if client is not None:
            client.cookies = cookies


# -- targets ---------------------------------------------------------------------------


class Ctx(dict[str, Any]):
    """What a target's set-up made: the client, her participant, her records."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError as exc:
            raise AttributeError(name) from exc


@dataclass(frozen=True)
class Target:
    """One way in: a form on a page or a serializer behind an endpoint, and how to reach it.

    ``build(ctx, data, files)`` binds the same form (or serializer) the view uses to the
    data the server received, to know what normal cleaning makes of it; ``stored(ctx)``
    reads back the record an accepted submission wrote.
    """

    name: str
    schema: type
    role: str | None
    method: str
    path: Callable[[Ctx], str]
    baseline: Callable[[Ctx], dict[str, Any]]
    setup: Callable[[Any], Ctx]
    build: Callable[[Ctx, Any, Any], Any]
    stored: Callable[[Ctx], models.Model | None] | None = None
    #: cleaned fields that are not stored under their own name on the record
    not_stored: frozenset[str] = frozenset()
    #: fields where an empty value means "the service chooses" (a default, "now")
    defaulted: frozenset[str] = frozenset()
    #: what the service makes of the cleaned values (a rule of the protocol), if not them
    expect: Callable[[dict[str, Any], models.Model], dict[str, Any]] | None = None
    #: the frozen day (Tokyo) the target runs on
    clock: str | None = None
    #: the context key of the bound form on a refused page
    form_key: str = "form"
    #: context keys (besides the form's errors) that may explain a 400: soft edit checks
    #: to confirm, each naming its field
    explained_by: tuple[str, ...] = ()
    #: a share of the profile's examples (1.0: the full number)
    weight: float = 1.0
    #: the target answers JSON without a form (an API endpoint)
    api: bool = False
    #: the OpenAPI operation (method, path template) an API target exercises
    operation: tuple[str, str] | None = None
    #: the valid baseline is saved (False: the page only shows or checks, never saves)
    saves: bool = True
    #: the page that shows a stored record: every text stored must appear there escaped
    shown_at: Callable[[Ctx, models.Model], str] | None = None

    @property
    def id(self) -> str:
        return self.name

    def fields(self, ctx: Ctx) -> dict[str, Kind]:
        """The fields the client fills in, each with its kind."""
        instance = self.build(ctx, None, None)
        found = instance.fields
        return {
            name: kind_of(f)
            for name, f in found.items()
            if not getattr(f, "read_only", False)
            # a disabled field ignores what is posted: it takes no input
            and not getattr(f, "disabled", False)
            and not isinstance(f, serializers.HiddenField)
        }


def clocked(target: Target) -> contextlib.AbstractContextManager[Any]:
    return at(target.clock) if target.clock else contextlib.nullcontext()


# -- one generated case ----------------------------------------------------------------


@dataclass
class Case:
    """One submission: the values sent, which fields were made hostile, and how."""

    data: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)
    mutated: tuple[str, ...] = ()
    dropped: tuple[str, ...] = ()
    extras: tuple[str, ...] = ()
    raw_body: bytes | None = None


@st.composite
def cases(
    draw: st.DrawFn, target: Target, fields: dict[str, Kind], baseline: dict[str, Any]
) -> Case:
    """A valid baseline with some fields made hostile, some dropped, some extra added."""
    names = sorted(fields)
    data = dict(baseline)
    mutated: list[str] = []
    if names:
        mutated = draw(st.lists(st.sampled_from(names), max_size=min(3, len(names)), unique=True))
    for name in mutated:
        value_strategy = hostile_json_value if target.api else hostile_web_value
        data[name] = draw(value_strategy(fields[name]))
    dropped = (
        draw(st.lists(st.sampled_from(names), max_size=2, unique=True))
        if names and draw(st.integers(0, 4)) == 0
        else []
    )
    for name in dropped:
        data.pop(name, None)
    extras = {k: v for k, v in draw(extra_fields(json=target.api)).items() if k not in fields}
    data.update(extras)
    files = {k: data.pop(k) for k, kind in fields.items() if kind.name == "file" and k in data}
    case = Case(
        data=data,
        files=files,
        mutated=tuple(mutated),
        dropped=tuple(dropped),
        extras=tuple(extras),
    )
    if not target.api and not files and draw(st.integers(0, 5)) == 0:
        case.raw_body = _urlencoded_with_broken_bytes(data, draw(st.binary(min_size=1, max_size=6)))
    if target.api and draw(st.integers(0, 7)) == 0:
        case.raw_body = draw(_broken_json(data))
    return case


def _urlencoded_with_broken_bytes(data: dict[str, Any], junk: bytes) -> bytes:
    """A form body with bytes that are not UTF-8 in one value, as a broken client sends."""
    body = urlencode(data, doseq=True).encode()
    percent = "".join(f"%{b:02X}" for b in junk).encode()
    return body + b"&comment_junk=" + percent if not data else body.replace(b"=", b"=" + percent, 1)


@st.composite
def _broken_json(draw: st.DrawFn, data: dict[str, Any]) -> bytes:
    text = json.dumps(data, ensure_ascii=False, default=str)
    choice = draw(st.integers(0, 6))
    if choice == 0:
        return text[: draw(st.integers(0, max(len(text) - 1, 0)))].encode()
    if choice == 1:
        return b"\xff\xfe" + text.encode("utf-16-le")
    if choice == 2:
        return b"[" * 100_000 + b"]" * 100_000
    if choice == 3:
        return json.dumps([data], default=str).encode()
    if choice == 4:
        return text.replace('"', "'").encode()
    if choice == 5:
        return b'{"a": NaN, "b": Infinity}'
    return text.encode() + b"\x00garbage"


# -- submitting ------------------------------------------------------------------------


def uploads(files: dict[str, bytes]) -> MultiValueDict:
    return MultiValueDict(
        {
            name: [SimpleUploadedFile("allocation.csv", content, content_type="text/csv")]
            for name, content in files.items()
        }
    )


def submit(target: Target, ctx: Ctx, case: Case) -> HttpResponse:
    client = ctx.client
    path = target.path(ctx)
    if target.api:
        body = case.raw_body
        if body is None:
            body = json.dumps(case.data, ensure_ascii=False, default=str).encode()
        return client.generic(target.method.upper(), path, body, content_type="application/json")
    if target.method == "get":
        return client.get(path, case.data)
    if case.raw_body is not None:
        return client.generic(
            "POST", path, case.raw_body, content_type="application/x-www-form-urlencoded"
        )
    payload: dict[str, Any] = dict(case.data)
    payload.update(uploads(case.files).dict())
    return client.post(path, payload)


# -- judging ---------------------------------------------------------------------------


def _equal(stored: Any, cleaned: Any) -> bool:
    if isinstance(stored, Decimal) or isinstance(cleaned, Decimal):
        try:
            return Decimal(str(stored)) == Decimal(str(cleaned))
        except InvalidOperation:
            return False
    if stored in (None, "") and cleaned in (None, ""):
        return True
    if isinstance(stored, list | tuple) or isinstance(cleaned, list | tuple):
        return list(stored or []) == list(cleaned or [])
    if isinstance(stored, models.Model):
        return stored == cleaned or str(cleaned) in (str(stored.pk), getattr(stored, "code", None))
    if isinstance(stored, dt.datetime) and isinstance(cleaned, dt.datetime):
        return stored == cleaned
    return bool(stored == cleaned)


def _error_messages(response: HttpResponse) -> list[str]:
    storage = getattr(response.wsgi_request, "_messages", None)
    queued = getattr(storage, "_queued_messages", [])
    return [str(m) for m in queued if m.level >= message_levels.ERROR]


def _form_errors(response: HttpResponse, key: str) -> dict[str, Any] | None:
    context = response.context
    if context is None:
        return None
    form = context.get(key)
    return dict(form.errors) if isinstance(form, forms.BaseForm) else None


@dataclass
class Verdict:
    accepted: bool
    detail: str


def judge(
    target: Target,
    ctx: Ctx,
    case: Case,
    response: HttpResponse,
    before: dict[str, int],
    fields: dict[str, Kind],
    extras_before: dict[str, Any],
) -> Verdict:
    status = response.status_code
    assert status < 500, f"{target.name}: {status} for {case}"
    if target.api:
        verdict = _judge_api(target, ctx, case, response, fields)
    else:
        verdict = _judge_web(target, ctx, case, response, fields)
    if not verdict.accepted:
        changed = changed_tables(before, row_counts())
        assert not changed, (
            f"{target.name}: refused ({status}: {verdict.detail}) but wrote {changed} for {case}"
        )
        return verdict
    _check_stored(target, ctx, case, extras_before)
    _check_shown_escaped(target, ctx, case)
    return verdict


def _judge_web(
    target: Target, ctx: Ctx, case: Case, response: HttpResponse, fields: dict[str, Kind]
) -> Verdict:
    request = response.wsgi_request
    sent = request.GET if target.method == "get" else request.POST
    local = target.build(ctx, sent, uploads(case.files))
    local_errors = set(local.errors) if not local.is_valid() else set()
    status = response.status_code
    errors = _error_messages(response)
    if status == 400:
        shown = _form_errors(response, target.form_key)
        explained = [
            finding
            for key in target.explained_by
            for finding in (response.context or {}).get(key) or []
        ]
        if not shown and explained:
            assert all(getattr(f, "field", None) in fields for f in explained), explained
            return Verdict(False, "; ".join(str(getattr(f, "message", f)) for f in explained))
        assert shown, f"{target.name}: 400 without the form's errors for {case}"
        unknown = set(shown) - set(fields) - NON_FIELD
        assert not unknown, f"{target.name}: errors on fields the form lacks: {unknown}"
        missing = local_errors - set(shown)
        assert not missing, f"{target.name}: 400 does not name {missing} ({shown}) for {case}"
        assert all(str(m).strip() for msgs in shown.values() for m in msgs)
        return Verdict(False, str(shown))
    if not 300 <= status < 400:
        return Verdict(False, f"{status}: shown again, not saved")
    if errors:
        return Verdict(False, "; ".join(errors))
    assert not local_errors, (
        f"{target.name}: accepted ({status}) what its form refuses: {local.errors} for {case}"
    )
    ctx["cleaned"] = local.cleaned_data
    return Verdict(True, "")


def _judge_api(
    target: Target, ctx: Ctx, case: Case, response: HttpResponse, fields: dict[str, Kind]
) -> Verdict:
    status = response.status_code
    body = (
        response.json() if response.get("Content-Type", "").startswith("application/json") else None
    )
    if status >= 400:
        assert isinstance(body, dict) and body, f"{target.name}: {status} without a JSON reason"
        if status == 400:
            parsed = _parsed_body(case)
            if parsed is None or not isinstance(parsed, dict):
                assert set(body) <= {"detail", "non_field_errors"}, body
                return Verdict(False, str(body))
            local = target.build(ctx, parsed, None)
            local_errors = set(local.errors) if not local.is_valid() else set()
            unknown = set(body) - set(fields) - NON_FIELD
            assert not unknown, f"{target.name}: 400 names {unknown}, not fields: {body} for {case}"
            missing = local_errors - set(body)
            assert not missing, f"{target.name}: 400 does not name {missing}: {body} for {case}"
            for messages in body.values():
                assert messages, body
        else:
            assert "detail" in body, f"{target.name}: {status} without detail: {body}"
        return Verdict(False, str(body))
    parsed = _parsed_body(case)
    assert isinstance(parsed, dict), f"{target.name}: accepted a body that is not an object"
    local = target.build(ctx, parsed, None)
    assert local.is_valid(), (
        f"{target.name}: accepted ({status}) what its serializer refuses: {local.errors} for {case}"
    )
    ctx["cleaned"] = dict(local.validated_data)
    return Verdict(True, "")


def _strict_constant(name: str) -> Any:
    raise ValueError(name)


def _parsed_body(case: Case) -> Any:
    raw = case.raw_body
    if raw is None:
        raw = json.dumps(case.data, ensure_ascii=False, default=str).encode()
    if not raw:
        return {}
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_strict_constant)
    except (ValueError, RecursionError):
        return None


def _check_stored(target: Target, ctx: Ctx, case: Case, extras_before: dict[str, Any]) -> None:
    if target.stored is None:
        return
    record = stored_record(target, ctx)
    assert record is not None, f"{target.name}: accepted but nothing stored for {case}"
    record.refresh_from_db()
    cleaned: dict[str, Any] = ctx["cleaned"]
    if target.expect is not None:
        cleaned = target.expect(cleaned, record)
    names = {f.name for f in record._meta.get_fields() if hasattr(f, "attname")}
    for name, value in cleaned.items():
        if name in target.not_stored or name not in names:
            continue
        if name in target.defaulted and value in (None, ""):
            continue
        stored = getattr(record, name)
        assert _equal(stored, value), (
            f"{target.name}: stored {name}={stored!r}, cleaned value was {value!r} for {case}"
        )
    for name in case.extras:
        injected = case.data.get(name)
        if name in names and name not in cleaned and isinstance(injected, str):
            stored = getattr(record, name)
            if len(injected.strip()) >= 3 and extras_before.get(name) != stored:
                assert str(stored) != injected, (
                    f"{target.name}: the extra field {name!r} was stored: {stored!r}"
                )


#: characters HTML gives a meaning to, which a page must show escaped
HTML_SPECIAL = frozenset("<>&\"'")


def _check_shown_escaped(target: Target, ctx: Ctx, case: Case) -> None:
    """Every stored text with a character HTML gives a meaning to is on the record's page
    escaped, and a stored piece of markup never appears there as markup."""
    if target.shown_at is None:
        return
    record = stored_record(target, ctx)
    assert record is not None
    texts = [
        value
        for f in record._meta.concrete_fields
        if isinstance(value := getattr(record, f.attname), str) and HTML_SPECIAL & set(value)
    ]
    if not texts:
        return
    response = ctx.client.get(target.shown_at(ctx, record))
    assert response.status_code == 200, (
        f"{target.name}: the record's page answered {response.status_code}"
    )
    page = response.content.decode()
    for text in texts:
        assert escape(text) in page, f"{target.name}: {text!r} is not shown escaped for {case}"
        if "<" in text and len(text) >= 12:
            assert text not in page, f"{target.name}: {text!r} is shown as markup for {case}"


def stored_record(target: Target, ctx: Ctx) -> models.Model | None:
    if target.stored is None:
        return None
    try:
        return target.stored(ctx)
    except ObjectDoesNotExist:
        return None


def extras_state(target: Target, ctx: Ctx) -> dict[str, Any]:
    """The record's values, before the case, of names a client might try to inject."""
    record = stored_record(target, ctx)
    if record is None:
        return {}
    return {f.name: getattr(record, f.name, None) for f in record._meta.concrete_fields}
