"""Reads whose statement differs from one call to the next only in its parameters.

The ORM compiles a queryset into SQL at every evaluation. For the few reads that every
request pays (her session, her account, her second factor, the study) or that every
write opens with (a participant's locked row), that compiling costs more of the client's
time than the statement costs the database. A :class:`CompiledRead` asks the ORM for
the statement once per process, thread and database, with probe values standing for its
parameters, then sends that statement with each call's values and builds the objects
with the ORM's own converters and populators, as a queryset does.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar, cast

from django.db import connections, models, router
from django.db.models.query import ModelIterable, ValuesListIterable, get_related_populators
from django.db.models.sql.compiler import SQLCompiler

M = TypeVar("M", bound=models.Model)


class _Statement:
    """One read compiled for one database: its SQL, where each call's values go, and
    how a row becomes objects."""

    def __init__(self, queryset: models.QuerySet[Any], probes: Sequence[Any], alias: str) -> None:
        compiler: SQLCompiler = queryset.query.get_compiler(using=alias)
        self.sql, params = compiler.as_sql()
        self.positions = []
        for param in params:
            matches = [i for i, probe in enumerate(probes) if _same(param, probe)]
            if len(matches) != 1:
                raise ValueError(f"the parameter {param!r} is not one of the probes {probes!r}")
            self.positions.append(matches[0])
        if set(self.positions) != set(range(len(probes))):
            raise ValueError(f"the statement does not take every probe of {probes!r}: {params!r}")
        self.alias = alias
        self.compiler = compiler
        self.model = queryset.model
        columns = [column[0] for column in compiler.select[0 : compiler.col_count]]
        if compiler.has_composite_fields(columns):
            raise ValueError("a compiled read takes no composite fields")
        #: the ORM's converters of the values read, found once
        self.converters = compiler.get_converters(columns)
        #: a read of values (``values_list``) answers rows, not model instances
        self.answers_rows = not issubclass(queryset._iterable_class, ModelIterable)
        query = queryset.query
        if self.answers_rows:
            if (
                queryset._iterable_class is not ValuesListIterable
                or query.extra_select
                or query.annotation_select
                or tuple(query.values_select) != tuple(getattr(queryset, "_fields", None) or ())
            ):
                raise ValueError("a compiled read of values takes a values_list of fields")
            return
        if compiler.annotation_col_map or compiler.klass_info is None:
            raise ValueError("a compiled read answers model instances or rows, not annotations")
        fields = compiler.klass_info["select_fields"]
        self.own = slice(fields[0], fields[-1] + 1)
        self.init_list = [column[0].target.attname for column in compiler.select[self.own]]
        # Django 5.2's signature; the django-stubs installed describe 6.1's (fetch_mode).
        self.populators = get_related_populators(  # type: ignore[call-arg]
            compiler.klass_info, compiler.select, alias
        )

    def run(self, values: Sequence[Any]) -> list[Any]:
        params = [values[i] for i in self.positions]
        with connections[self.alias].cursor() as cursor:
            cursor.execute(self.sql, params)
            rows = cursor.fetchall()
        if not rows:
            return []
        if self.converters:
            rows = list(self.compiler.apply_converters(rows, self.converters))
        if self.answers_rows:
            return [tuple(row) for row in rows]
        found = []
        for row in rows:
            instance = self.model.from_db(self.alias, self.init_list, row[self.own])
            for populator in self.populators:
                populator.populate(row, instance)
            found.append(instance)
        return found


def _same(param: Any, probe: Any) -> bool:
    return type(param) is type(probe) and param == probe


class _Compiled(threading.local):
    """The statements compiled by this thread, by database."""

    def __init__(self) -> None:
        self.statements: dict[str, _Statement] = {}


class CompiledRead(Generic[M]):
    """A read compiled once per process, thread and database: ``build(*probes)`` is the
    queryset, with ``probes`` (distinct values of the parameters' types) in place of the
    values each call gives, in the same order. A queryset of model instances answers
    them (:meth:`all`, :meth:`first`, :meth:`get`); one of values (``values_list``)
    answers rows (:meth:`rows`).

    Each probe must reach the statement unchanged, as one of its parameters: compiling
    refuses a queryset that transforms one (say a lookup that adds ``%`` around text). A
    probe must differ from every constant the statement holds, which would otherwise be
    taken for it: a stand-in no real value has (a negative id, text starting with NUL).
    ``for_write`` reads from the database writes go to (a read that locks its rows).
    """

    def __init__(
        self, build: Callable[..., models.QuerySet[M, Any]], *probes: Any, for_write: bool = False
    ) -> None:
        if any(_same(p, q) for i, p in enumerate(probes) for q in probes[i + 1 :]):
            raise ValueError(f"the probes must differ from one another: {probes!r}")
        self.build = build
        self.probes = probes
        self.for_write = for_write
        self._model: type[M] | None = None
        self._compiled = _Compiled()

    def _statement(self) -> _Statement:
        if self._model is None:
            self._model = self.build(*self.probes).model
        model = self._model
        alias = router.db_for_write(model) if self.for_write else router.db_for_read(model)
        statements = self._compiled.statements
        statement = statements.get(alias)
        if statement is None:
            queryset = self.build(*self.probes).using(alias)
            statement = statements[alias] = _Statement(queryset, self.probes, alias)
        return statement

    def _run(self, values: tuple[Any, ...]) -> tuple[_Statement, list[M]]:
        if len(values) != len(self.probes):
            raise TypeError(f"the read takes {len(self.probes)} values, {len(values)} given")
        statement = self._statement()
        return statement, statement.run(values)

    def all(self, *values: Any) -> list[M]:
        """The objects the statement answers with ``values``, in its order."""
        statement, found = self._run(values)
        if statement.answers_rows:
            raise TypeError("a read of values answers rows: call rows()")
        return found

    def rows(self, *values: Any) -> list[tuple[Any, ...]]:
        """The rows a read of values (``values_list``) answers with ``values``."""
        statement, found = self._run(values)
        if not statement.answers_rows:
            raise TypeError("a read of model instances answers objects: call all()")
        return cast(list[tuple[Any, ...]], found)

    def first(self, *values: Any) -> M | None:
        found = self.all(*values)
        return found[0] if found else None

    def get(self, *values: Any) -> M:
        """The one object the statement answers, as ``QuerySet.get`` gives it."""
        statement, found = self._run(values)
        if statement.answers_rows:
            raise TypeError("a read of values answers rows: call rows()")
        if len(found) == 1:
            return found[0]
        name = statement.model._meta.object_name
        if not found:
            raise statement.model.DoesNotExist(f"No {name} matches {values!r}.")
        raise statement.model.MultipleObjectsReturned(f"{len(found)} {name} match {values!r}.")
