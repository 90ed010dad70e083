"""The app's database role, made by ``create_app_role`` on the test database, cannot rewrite,
empty or switch off the audit trail, yet every write of the services goes through.

Each attempt runs on a connection of its own as that role; the owner's connection shows
that the same statement would otherwise reach the table (pgtrigger lets any session ask
for a Protect trigger to be ignored), so what stops the role is its grants.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from psycopg import errors, sql

from ecrf.audit.chain import chain_verify, event_tables
from ecrf.audit.models import ChainLink, ChainShape, ChainVerification
from ecrf.audit.roles import append_only_tables
from ecrf.participants.models import Participant
from ecrf.studies.models import Site

from ..conftest import eligible_consented
from ..databases import url_of
from ..factories import ParticipantFactory, UserFactory

pytestmark = [
    pytest.mark.faults,
    pytest.mark.requirement(
        "ICH-E6R3-4.3.3-DATABASE-ROLE", "CFR11-10C-PROTECTION", "CFR11-10E-NOT-OBSCURE"
    ),
    pytest.mark.django_db(transaction=True),
]

CHAIN_TABLE = ChainLink._meta.db_table


def participant_event_table() -> str:
    """The audit event table of participants (one of the pghistory event tables)."""
    for model in Participant.pgh_event_models.values():  # type: ignore[attr-defined]
        return str(model._meta.db_table)
    raise AssertionError("Participants are not audited")


def ignore_protect_triggers(table: str) -> str:
    """The setting with which pgtrigger skips every Protect trigger of ``table``."""
    uris = []
    for model in (ChainLink, *Participant.pgh_event_models.values()):  # type: ignore[attr-defined]
        if model._meta.db_table == table:
            for trigger in model._meta.triggers:
                pgid = trigger.get_pgid(model)
                uris += [f"{table}:{pgid}", pgid]
    return "{" + ",".join(uris) + "}"


@pytest.fixture
def app_role(trial_built: None) -> Iterator[dict[str, str]]:
    """A role made by ``create_app_role`` on the test database; dropped at the end."""
    role = f"ecrf_app_test_{uuid.uuid4().hex[:10]}"
    password = secrets.token_urlsafe(16)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ECRF_TEST_APP_ROLE_PASSWORD", password)
        call_command("create_app_role", role, "--password-env", "ECRF_TEST_APP_ROLE_PASSWORD")
    settings_dict = {**connection.settings_dict, "USER": role, "PASSWORD": password}
    try:
        yield {
            "role": role,
            "password": password,
            "url": url_of(settings_dict, connection.settings_dict["NAME"]),
        }
    finally:
        connection.close()
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                [role],
            )
            cursor.execute(f"DROP OWNED BY {connection.ops.quote_name(role)}")
            cursor.execute(f"DROP ROLE {connection.ops.quote_name(role)}")


@contextmanager
def django_connected_as(role: dict[str, str]) -> Iterator[None]:
    """The app's own database connection, for the block, made as ``role``."""
    saved = connection.settings_dict["USER"], connection.settings_dict["PASSWORD"]
    connection.close()
    connection.settings_dict["USER"] = role["role"]
    connection.settings_dict["PASSWORD"] = role["password"]
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict["USER"], connection.settings_dict["PASSWORD"] = saved


def refused(url: str, *statements: str | sql.Composed, params: Any = None) -> type[Exception]:
    """Run ``statements`` in one transaction on a new connection to ``url``; answer the
    class of the error the last one raised (the transaction is rolled back)."""
    with psycopg.connect(url) as conn:
        try:
            for statement in statements:
                conn.execute(statement, params)
        except psycopg.Error as exc:
            conn.rollback()
            return type(exc)
        conn.rollback()
    raise AssertionError(f"The database accepted {statements[-1]!r}")


def owner_runs(url: str, statement: sql.Composed) -> None:
    """Run ``statement`` as the owner and roll it back: the control, which must succeed."""
    with psycopg.connect(url) as conn:
        conn.execute(statement)
        conn.rollback()


@pytest.fixture
def enrolled(study: Any) -> Participant:
    """A participant enrolled through the service (as the owner): events and chain links."""
    coordinator = UserFactory(role="coordinator", site_codes=["S01"])
    return ParticipantFactory(site=Site.objects.get(code="S01"), performed_by=coordinator)


def test_every_audit_event_table_and_the_chain_are_append_only_for_the_app() -> None:
    """The role's append-only tables are read from the models: each pghistory event table
    and the chain's links, shapes and verifications are among them."""
    append_only = set(append_only_tables())
    assert set(event_tables()) <= append_only
    chain = {model._meta.db_table for model in (ChainLink, ChainShape, ChainVerification)}
    assert chain <= append_only
    assert Participant._meta.db_table not in append_only


def test_app_role_cannot_truncate_update_or_delete_events(
    app_role: dict[str, str], enrolled: Participant
) -> None:
    owner = url_of(connection.settings_dict, connection.settings_dict["NAME"])
    events = participant_event_table()
    for table in (events, CHAIN_TABLE):
        key = "pgh_id" if table == events else "seq"
        target = sql.SQL("(SELECT min({}) FROM {})").format(
            sql.Identifier(key), sql.Identifier(table)
        )
        update = sql.SQL("UPDATE {t} SET {k} = {k} WHERE {k} = {row}").format(
            t=sql.Identifier(table), k=sql.Identifier(key), row=target
        )
        delete = sql.SQL("DELETE FROM {t} WHERE {k} = {row}").format(
            t=sql.Identifier(table), k=sql.Identifier(key), row=target
        )
        truncate = sql.SQL("TRUNCATE {} CASCADE").format(sql.Identifier(table))
        for statement in (truncate, update, delete):
            assert refused(app_role["url"], statement) is errors.InsufficientPrivilege, statement
        # The owner may empty the table (rolled back): the refusal is the role's alone.
        owner_runs(owner, truncate)
    # The rows are all still there.
    with psycopg.connect(owner) as conn:
        count = conn.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(events))
        ).fetchone()
    assert count is not None and count[0] >= 1


def test_app_role_cannot_switch_the_triggers_off(
    app_role: dict[str, str], enrolled: Participant
) -> None:
    owner = url_of(connection.settings_dict, connection.settings_dict["NAME"])
    for table in (participant_event_table(), CHAIN_TABLE):
        name = sql.Identifier(table)
        for statement in (
            sql.SQL("ALTER TABLE {} DISABLE TRIGGER ALL").format(name),
            sql.SQL("ALTER TABLE {} DISABLE TRIGGER USER").format(name),
        ):
            assert refused(app_role["url"], statement) is errors.InsufficientPrivilege
    assert (
        refused(app_role["url"], "SET session_replication_role = replica")
        is errors.InsufficientPrivilege
    )
    # pgtrigger lets any session skip a Protect trigger; the owner's UPDATE then goes
    # through (rolled back), the role's is refused by its grants.
    ignore = "SELECT set_config('pgtrigger.ignore', %s, false)"
    update = sql.SQL("UPDATE {t} SET chained_at = chained_at WHERE seq = {row}").format(
        t=sql.Identifier(CHAIN_TABLE),
        row=sql.SQL("(SELECT min(seq) FROM {})").format(sql.Identifier(CHAIN_TABLE)),
    )
    setting = ignore_protect_triggers(CHAIN_TABLE)
    with psycopg.connect(owner) as conn:
        conn.execute(ignore, [setting])
        assert conn.execute(update).rowcount == 1
        conn.rollback()
    with psycopg.connect(app_role["url"]) as conn:
        conn.execute(ignore, [setting])
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute(update)
        conn.rollback()


def test_services_write_study_data_and_the_audit_trail_as_the_app_role(
    app_role: dict[str, str], study: Any
) -> None:
    links_before = ChainLink.objects.count()
    with django_connected_as(app_role):
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_user")
            assert cursor.fetchone()[0] == app_role["role"]
        coordinator = UserFactory(role="coordinator", site_codes=["S01"])
        participant = eligible_consented(Site.objects.get(code="S01"), coordinator)
        report = chain_verify(checked_by="app role test")
        event_model = next(iter(Participant.pgh_event_models.values()))  # type: ignore[attr-defined]
        events = event_model.objects.filter(pgh_obj_id=participant.pk).count()
    assert report.intact, str(report.finding)
    assert events >= 3
    assert ChainLink.objects.count() > links_before
    assert ChainVerification.objects.filter(checked_by="app role test", intact=True).exists()


def test_create_app_role_twice_leaves_the_same_grants(app_role: dict[str, str]) -> None:
    def grants() -> list[tuple[str, str]]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT table_name, string_agg(privilege_type, ',' ORDER BY privilege_type) "
                "FROM information_schema.role_table_grants WHERE grantee = %s "
                "GROUP BY table_name ORDER BY table_name",
                [app_role["role"]],
            )
            return list(cursor.fetchall())

    first = grants()
    events = participant_event_table()
    assert dict(first)[events] == "INSERT,SELECT"
    assert dict(first)[Participant._meta.db_table] == "DELETE,INSERT,SELECT,UPDATE"
    with connection.cursor() as cursor:
        # A privilege given by hand since is taken back by the next run.
        cursor.execute(
            f"GRANT UPDATE, TRUNCATE ON {connection.ops.quote_name(events)} "
            f"TO {connection.ops.quote_name(app_role['role'])}"
        )
    call_command("create_app_role", app_role["role"])
    assert grants() == first


def test_create_app_role_refuses_a_superuser_or_the_owner() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        current = cursor.fetchone()[0]
    with pytest.raises(CommandError, match="run this as the owner"):
        call_command("create_app_role", current)
    superuser = f"ecrf_super_test_{uuid.uuid4().hex[:10]}"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {superuser} SUPERUSER LOGIN")
    try:
        with pytest.raises(CommandError, match="is a superuser"):
            call_command("create_app_role", superuser)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP ROLE {superuser}")
