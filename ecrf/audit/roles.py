"""The database role the app, its workers and beat connect as: it owns nothing.

Migrations run as the owner of the tables. The app's role may read and write the study
tables, but on every table the database keeps append-only (a ``pgtrigger.Protect``
trigger against UPDATE and DELETE: each audit event table and the hash chain's) it may
only SELECT and INSERT. It may TRUNCATE nothing, and, owning no table and being no
superuser, it can neither disable a trigger (``ALTER TABLE ... DISABLE TRIGGER``) nor
switch triggers off for its session (``session_replication_role``). The grants repeat
what the triggers say in a form the app cannot switch off: a session may ask pgtrigger
to ignore a Protect trigger, but not for a privilege it was never given.

Grants are given table by table, for the tables there are now: a table a later migration
adds is out of the role's reach until :func:`app_role_grant` runs again (``make run``
and the production steps run it after every ``migrate``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pgtrigger
from django.apps import apps
from django.db import connection, transaction

#: What the app may do on a study table, and on a table the database keeps append-only.
READ_WRITE = ("SELECT", "INSERT", "UPDATE", "DELETE")
APPEND_ONLY = ("SELECT", "INSERT")
#: Privileges the app's role must not hold on an append-only table, whoever gave them.
NEVER_ON_APPEND_ONLY = ("UPDATE", "DELETE", "TRUNCATE", "TRIGGER", "REFERENCES")
#: Role attributes that would let the role step around its grants.
FORBIDDEN_ATTRIBUTES = {
    "rolsuper": "is a superuser",
    "rolcreaterole": "may create roles",
    "rolcreatedb": "may create databases",
    "rolreplication": "may start replication",
    "rolbypassrls": "bypasses row-level security",
}
ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class AppRoleError(Exception):
    """The role cannot be made the app's role as asked; the message says why."""


@dataclass(frozen=True)
class AppRoleGrants:
    """What :func:`app_role_grant` left the role with."""

    role: str
    created: bool
    read_write_tables: int
    append_only_tables: int
    sequences: int


def _protects_update_and_delete(trigger: Any) -> bool:
    if not isinstance(trigger, pgtrigger.Protect) or trigger.condition is not None:
        return False
    operation = str(trigger.operation)
    return "UPDATE" in operation and "DELETE" in operation


def append_only_tables() -> list[str]:
    """Every table whose model the database keeps append-only: a Protect trigger refuses
    any UPDATE and DELETE (each pghistory event table, the hash chain's links, shapes
    and verifications)."""
    return sorted(
        {
            model._meta.db_table
            for model in apps.get_models()
            if not model._meta.proxy
            and any(
                _protects_update_and_delete(trigger)
                for trigger in getattr(model._meta, "triggers", ())
            )
        }
    )


def _role_attributes(cursor: Any, role: str) -> dict[str, bool] | None:
    cursor.execute(
        "SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls, "
        "rolcanlogin FROM pg_roles WHERE rolname = %s",
        [role],
    )
    row = cursor.fetchone()
    if row is None:
        return None
    names = [*FORBIDDEN_ATTRIBUTES, "rolcanlogin"]
    return dict(zip(names, row, strict=True))


def _schema_relations(cursor: Any, kinds: tuple[str, ...]) -> list[str]:
    cursor.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() AND c.relkind = ANY(%s) ORDER BY c.relname",
        [list(kinds)],
    )
    return [name for (name,) in cursor.fetchall()]


def _refuse_unfit_role(cursor: Any, role: str, attributes: dict[str, bool]) -> None:
    held = [words for name, words in FORBIDDEN_ATTRIBUTES.items() if attributes[name]]
    if held:
        raise AppRoleError(
            f"The role {role} {', '.join(held)}: it cannot be the app's role. "
            "Name a role that has none of these attributes, or a new one."
        )
    if not attributes["rolcanlogin"]:
        raise AppRoleError(f"The role {role} may not log in: the app could not connect as it.")
    cursor.execute(
        "SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid "
        "JOIN pg_roles member ON member.oid = m.member WHERE member.rolname = %s "
        "ORDER BY r.rolname",
        [role],
    )
    memberships = [name for (name,) in cursor.fetchall()]
    if memberships:
        raise AppRoleError(
            f"The role {role} is a member of {', '.join(memberships)}: it could act with "
            "their privileges. The app's role must belong to no other role."
        )
    cursor.execute(
        "SELECT (SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner "
        "        WHERE r.rolname = %(role)s) "
        "     + (SELECT count(*) FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba "
        "        WHERE r.rolname = %(role)s AND d.datname = current_database()) "
        "     + (SELECT count(*) FROM pg_namespace n JOIN pg_roles r ON r.oid = n.nspowner "
        "        WHERE r.rolname = %(role)s)",
        {"role": role},
    )
    if cursor.fetchone()[0]:
        raise AppRoleError(
            f"The role {role} owns tables, the database or a schema: an owner may disable "
            "triggers and truncate tables. The app's role must own nothing."
        )


def app_role_grant(*, role: str, password: str | None = None) -> AppRoleGrants:
    """Create the app's role if missing and grant it exactly what the app needs, on the
    database of the current connection, which must be the tables' owner's (or a
    superuser's). Run again, it leaves the same grants: every privilege of the role on a
    table or sequence of the schema is revoked first, in the same transaction.

    Refuses a role that is a superuser, may create roles or databases, owns anything or
    is the current user; checks afterwards that the role can UPDATE, DELETE or TRUNCATE
    no append-only table and create nothing in the schema, whoever granted what.
    """
    if not ROLE_NAME.match(role):
        raise AppRoleError(
            f"{role!r} is not a plain role name: lower-case letters, digits and underscores."
        )
    quoted = connection.ops.quote_name(role)
    append_only = set(append_only_tables())
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT current_user, current_database(), current_schema()")
        current_user, database, schema = cursor.fetchone()
        if role == current_user:
            raise AppRoleError(
                f"Connected as {role}: run this as the owner of the tables, naming another role."
            )
        attributes = _role_attributes(cursor, role)
        created = attributes is None
        if created:
            cursor.execute(
                f"CREATE ROLE {quoted} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE "
                "NOREPLICATION NOBYPASSRLS NOINHERIT"
            )
        else:
            assert attributes is not None
            _refuse_unfit_role(cursor, role, attributes)
        if password is not None:
            cursor.execute(f"ALTER ROLE {quoted} PASSWORD %s", [password])

        cursor.execute(
            f"GRANT CONNECT ON DATABASE {connection.ops.quote_name(database)} TO {quoted}"
        )
        cursor.execute(f"GRANT USAGE ON SCHEMA {connection.ops.quote_name(schema)} TO {quoted}")
        cursor.execute(f"REVOKE CREATE ON SCHEMA {connection.ops.quote_name(schema)} FROM {quoted}")
        tables = _schema_relations(cursor, ("r", "p"))
        for table in tables:
            name = connection.ops.quote_name(table)
            privileges = APPEND_ONLY if table in append_only else READ_WRITE
            cursor.execute(f"REVOKE ALL ON TABLE {name} FROM {quoted}")
            cursor.execute(f"GRANT {', '.join(privileges)} ON TABLE {name} TO {quoted}")
        sequences = _schema_relations(cursor, ("S",))
        for sequence in sequences:
            name = connection.ops.quote_name(sequence)
            cursor.execute(f"REVOKE ALL ON SEQUENCE {name} FROM {quoted}")
            cursor.execute(f"GRANT USAGE, SELECT ON SEQUENCE {name} TO {quoted}")
        _verify(cursor, role, [table for table in tables if table in append_only], schema)
    return AppRoleGrants(
        role=role,
        created=created,
        read_write_tables=len([table for table in tables if table not in append_only]),
        append_only_tables=len([table for table in tables if table in append_only]),
        sequences=len(sequences),
    )


def _verify(cursor: Any, role: str, append_only: list[str], schema: str) -> None:
    """Whatever else was granted to the role, to a role it belongs to or to PUBLIC, it
    holds no privilege that would let it rewrite or empty the audit trail."""
    checks = " OR ".join(
        f"has_table_privilege(%(role)s, c.oid, '{privilege}')" for privilege in NEVER_ON_APPEND_ONLY
    )
    cursor.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "  # noqa: S608
        "WHERE n.nspname = current_schema() AND c.relname = ANY(%(tables)s) "
        f"AND ({checks} OR has_any_column_privilege(%(role)s, c.oid, 'UPDATE')) "
        "ORDER BY c.relname",
        {"role": role, "tables": append_only},
    )
    too_much = [name for (name,) in cursor.fetchall()]
    if too_much:
        raise AppRoleError(
            f"The role {role} may still change the append-only tables {', '.join(too_much)} "
            "through a grant to PUBLIC or to a role it belongs to; revoke that grant."
        )
    cursor.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') "
        "AND has_table_privilege(%s, c.oid, 'TRUNCATE') ORDER BY c.relname",
        [role],
    )
    truncatable = [name for (name,) in cursor.fetchall()]
    if truncatable:
        raise AppRoleError(
            f"The role {role} may still truncate {', '.join(truncatable)} through a grant to "
            "PUBLIC or to a role it belongs to; revoke that grant."
        )
    cursor.execute("SELECT has_schema_privilege(%s, %s, 'CREATE')", [role, schema])
    if cursor.fetchone()[0]:
        raise AppRoleError(
            f"The role {role} may create tables in the schema {schema} (PostgreSQL before 15 "
            f"grants this to PUBLIC): run REVOKE CREATE ON SCHEMA {schema} FROM PUBLIC."
        )
