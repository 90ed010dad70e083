"""Reads compiled once: the same objects as the ORM's own read, one statement each."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ecrf.common.compiled import CompiledRead
from ecrf.studies.models import Site

pytestmark = pytest.mark.django_db

PROBE_TIME = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def _counted(build):
    calls: list[tuple] = []

    def counting(*values):
        calls.append(values)
        return build(*values)

    return counting, calls


def test_each_call_sends_the_statement_compiled_once_with_its_own_values(site_a, site_b):
    build, calls = _counted(lambda code: Site.objects.select_related("study").filter(code=code))
    read = CompiledRead(build, "probe")
    first = read.get(site_a.code)
    study_code = site_b.study.code
    with CaptureQueriesContext(connection) as captured:
        second = read.get(site_b.code)
        assert second.study.code == study_code  # brought by the one statement
    assert len(captured.captured_queries) == 1
    assert [first.pk, second.pk] == [site_a.pk, site_b.pk]
    assert second.name_en == site_b.name_en
    assert calls == [("probe",), ("probe",)]  # the model, then the statement: nothing later


def test_values_reach_their_parameters_whatever_order_the_statement_takes_them():
    # The ORM sorts a filter's keywords: the statement asks for the time, then the key.
    now = timezone.now()
    live = Session.objects.create(
        session_key="k" * 32, session_data="x", expire_date=now + dt.timedelta(minutes=5)
    )
    Session.objects.create(
        session_key="e" * 32, session_data="x", expire_date=now - dt.timedelta(minutes=5)
    )
    read = CompiledRead(
        lambda key, at: Session.objects.filter(session_key=key, expire_date__gt=at),
        "",
        PROBE_TIME,
    )
    assert read.get("k" * 32, now) == live
    assert read.get("k" * 32, now).expire_date == live.expire_date  # aware, converted
    assert read.first("e" * 32, now) is None
    assert read.all("e" * 32, now - dt.timedelta(hours=1))[0].session_key == "e" * 32


def test_a_missing_row_raises_as_the_orm_does_and_several_rows_too(site_a, site_b):
    by_code = CompiledRead(lambda code: Site.objects.filter(code=code), "probe")
    with pytest.raises(Site.DoesNotExist):
        by_code.get("NONE")
    every = CompiledRead(lambda pk: Site.objects.exclude(pk=pk).order_by("code"), -1)
    with pytest.raises(Site.MultipleObjectsReturned):
        every.get(-5)
    assert [s.code for s in every.all(site_a.pk)] == [
        s.code for s in Site.objects.exclude(pk=site_a.pk).order_by("code")
    ]


def test_a_queryset_that_changes_a_probe_on_its_way_to_the_statement_is_refused(site_a):
    contains = CompiledRead(lambda text: Site.objects.filter(name_en__icontains=text), "probe")
    with pytest.raises(ValueError, match="not one of the probes"):
        contains.all("x")
    with pytest.raises(ValueError, match="differ"):
        CompiledRead(lambda a, b: Site.objects.filter(pk__in=[a, b]), 1, 1)
    unused = CompiledRead(lambda pk, code: Site.objects.filter(pk=pk), -1, "probe")
    with pytest.raises(ValueError, match="every probe"):
        unused.all(site_a.pk, "S01")
    with pytest.raises(TypeError, match="takes 1 values"):
        CompiledRead(lambda pk: Site.objects.filter(pk=pk), -1).all()


def test_each_thread_compiles_its_own(site_a):
    build, calls = _counted(lambda pk: Site.objects.filter(pk=pk))
    read = CompiledRead(build, -1)
    read.get(site_a.pk)
    read.get(site_a.pk)
    assert len(calls) == 2  # the model, then this thread's statement

    def other() -> None:
        read._statement()

    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    assert len(calls) == 3
