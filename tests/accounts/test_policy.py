"""One policy function per action: services refuse, and pages offer, exactly what it says.

For each action and each role (at her own site, and at another site for the roles bound
to theirs), the service refuses exactly when the policy says no, and the participant's
page shows the action's button exactly when the policy says yes. No role-name literal
may appear outside the policy, the role definitions, site scoping and set-up data.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory
from django.urls import reverse

from ecrf.accounts import policy
from ecrf.accounts.selectors import sites_visible_to, user_sees_site
from ecrf.common.exceptions import StateConflict
from ecrf.participants.models import Participant
from ecrf.participants.services import participant_update_screening, participant_withdraw
from ecrf.quality.services import lock_set, signature_sign, verification_mark
from ecrf.queries.services import query_close, query_open, query_respond
from ecrf.safety.services import adverse_event_confirm, adverse_event_record
from ecrf.studies.models import Site
from randomization.services import participant_randomize

from ..clock import at
from ..factories import PASSWORD

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.requirement("CFR11-10D-ACCESS", "CFR11-10G-AUTHORITY"),
]

ROOT = Path(__file__).resolve().parents[2]
ROLES = ("coordinator", "investigator", "monitor", "data_manager", "statistician", "admin")
SITE_BOUND = ("coordinator", "investigator", "monitor")
#: Each role at site S01 (where the participant is), and the site-bound ones at S02.
USERS = [(role, "S01") for role in ROLES] + [(role, "S02") for role in SITE_BOUND]

#: Files where role names belong: the roles and the policy, site scoping, set-up and
#: demo data, and the account set-up service and its commands.
ALLOWED = {
    "ecrf/accounts/roles.py",
    "ecrf/accounts/policy.py",
    "ecrf/accounts/selectors.py",
    "ecrf/accounts/models.py",
    "ecrf/accounts/services.py",
    "ecrf/accounts/admin.py",
    "ecrf/home/demo.py",
    "ecrf/home/management/commands/seed_demo.py",
}
ROLE_LITERAL = re.compile(
    r"""Role\.[A-Z]"""
    r"""|["'](coordinator|monitor|data_manager|statistician)["']"""
    r"""|role\s*(==|!=|in)\s*["'(]"""
    r"""|role\s*=\s*["'](investigator|admin)["']"""
)


def test_no_role_name_literal_outside_the_policy() -> None:
    """A role named in a view, template, service or admin bypasses the policy functions."""
    found = []
    sources = [*ROOT.glob("ecrf/**/*.py"), *ROOT.glob("randomization/**/*.py")]
    sources += list(ROOT.glob("templates/**/*.html"))
    for path in sources:
        relative = path.relative_to(ROOT).as_posix()
        if relative in ALLOWED or "/migrations/" in relative or "/management/commands/" in relative:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if ROLE_LITERAL.search(line):
                found.append(f"{relative}:{number}: {line.strip()}")
    assert found == []


def test_the_policys_site_question_answers_as_site_scoping_does(
    make_user: Callable[..., Any],
) -> None:
    """Every policy asks ``user_sees_site``; it agrees with the scoping of every read."""
    users: list[Any] = [make_user(role, ["S01"] if role in SITE_BOUND else []) for role in ROLES]
    users += [make_user(role, ["S02"]) for role in SITE_BOUND]
    users.append(make_user("coordinator", ["S01", "S02"]))
    inactive = make_user("coordinator", ["S01"])
    inactive.is_active = False
    users += [inactive, AnonymousUser()]
    disagreements = []
    for user in users:
        visible = set(sites_visible_to(user))
        for site in Site.objects.all():
            if user_sees_site(user, site) != (site in visible):
                disagreements.append((str(user), site.code))
    assert disagreements == []
    assert user_sees_site(users[0], Site.objects.get(code="S01"))
    assert not user_sees_site(users[len(ROLES)], Site.objects.get(code="S01"))


# -- services refuse exactly when the policy says no ------------------------------------


def _ae(participant: Participant, user: Any) -> Any:
    return adverse_event_record(
        participant=participant,
        term="Headache",
        onset_date=dt.date(2026, 2, 24),
        ctcae_grade=1,
        serious=False,
        related=False,
        outcome="recovered",
        performed_by=user,
    )


def _query(participant: Participant, monitor: Any) -> Any:
    return query_open(
        participant=participant,
        record="eligibility",
        field="th1_th2_ratio",
        text="Please check.",
        performed_by=monitor,
    )


#: action: (policy, what the participant needs, the service call)
ACTIONS: dict[str, tuple[policy.Policy, str, Callable[..., Any]]] = {
    "enter_data": (
        policy.may_enter_data,
        "ready",
        lambda p, user, ctx: participant_update_screening(
            participant=p,
            screening_date=p.screening_date,
            birth_date=p.birth_date,
            reason="",
            performed_by=user,
        ),
    ),
    "randomize": (
        policy.may_randomize,
        "ready",
        lambda p, user, ctx: participant_randomize(
            participant=p, idempotency_key=f"k-{user.pk}", performed_by=user
        ),
    ),
    "withdraw": (
        policy.may_withdraw,
        "ready",
        lambda p, user, ctx: participant_withdraw(
            participant=p, date=p.screening_date, reason="She moved away.", performed_by=user
        ),
    ),
    "record_adverse_events": (
        policy.may_record_adverse_events,
        "randomized",
        lambda p, user, ctx: _ae(p, user),
    ),
    "confirm_adverse_events": (
        policy.may_confirm_adverse_events,
        "randomized",
        lambda p, user, ctx: adverse_event_confirm(
            adverse_event=_ae(p, ctx["coordinator"]), performed_by=user
        ),
    ),
    "sign": (
        policy.may_sign,
        "ready",
        lambda p, user, ctx: signature_sign(
            participant=p,
            password=PASSWORD,
            performed_by=user,
            request=RequestFactory().post("/"),
        ),
    ),
    "verify": (
        policy.may_verify,
        "ready",
        lambda p, user, ctx: verification_mark(
            participant=p, record="eligibility", performed_by=user
        ),
    ),
    "lock": (
        policy.may_lock,
        "ready",
        lambda p, user, ctx: lock_set(
            study=p.site.study, participant=p, reason="Review", performed_by=user
        ),
    ),
    "raise_query": (policy.may_raise_query, "ready", lambda p, user, ctx: _query(p, user)),
    "answer_query": (
        policy.may_answer_query,
        "ready",
        lambda p, user, ctx: query_respond(
            query=_query(p, ctx["monitor"]), text="Checked.", performed_by=user
        ),
    ),
    "close_query": (
        policy.may_close_query,
        "ready",
        lambda p, user, ctx: query_close(query=_query(p, ctx["monitor"]), performed_by=user),
    ),
}


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_the_service_refuses_exactly_when_the_policy_says_no(
    action: str,
    make_user: Callable[..., Any],
    coordinator_a: Any,
    ready_participant: Callable[..., Participant],
) -> None:
    may, needs, call = ACTIONS[action]
    ctx = {"coordinator": coordinator_a, "monitor": make_user("monitor", ["S01"])}
    disagreements = []
    for role, site in USERS:
        user = make_user(role, [site] if role in SITE_BOUND else [])
        with at("2026-02-20"):
            participant = ready_participant()
            if needs == "randomized":
                participant_randomize(
                    participant=participant,
                    idempotency_key=f"setup-{participant.pk}",
                    performed_by=coordinator_a,
                )
        participant = Participant.objects.select_related("site__study").get(pk=participant.pk)
        allowed = bool(may(user, participant))
        with at("2026-02-25"):
            try:
                call(participant, user, ctx)
            except (PermissionDenied, StateConflict):
                refused = True
            else:
                refused = False
        if refused == allowed:
            disagreements.append((role, site, "policy allows" if allowed else "policy refuses"))
    assert disagreements == []


def test_a_refusal_for_her_state_is_a_conflict_not_a_permission(
    make_user: Callable[..., Any], ready_participant: Callable[..., Participant]
) -> None:
    investigator = make_user("investigator", ["S01"])
    participant = ready_participant()
    participant_withdraw(
        participant=participant,
        date=participant.screening_date,
        reason="She moved away.",
        performed_by=investigator,
    )
    participant.refresh_from_db()
    decision = policy.may_withdraw(investigator, participant)
    assert not decision and decision.conflict
    with pytest.raises(StateConflict):
        participant_withdraw(
            participant=participant,
            date=participant.screening_date,
            reason="Again.",
            performed_by=investigator,
        )


# -- pages show a button exactly when the policy says yes -------------------------------

#: The button (or form) of each action on the participant's page.
BUTTONS = {
    "enter_data": 'id="eligibility-link"',
    "randomize": 'id="randomize-link"',
    "withdraw": 'id="withdraw-link"',
    "view_history": 'id="history-link"',
    "sign": 'id="sign-form"',
    "verify": "quality:verify",  # on the page of each of her forms
    "lock": 'id="lock-button"',
    "raise_query": 'id="query-form"',
}


@pytest.mark.parametrize(("role", "site"), USERS)
def test_the_page_shows_a_button_exactly_when_the_policy_allows_it(
    role: str,
    site: str,
    make_user: Callable[..., Any],
    ready_participant: Callable[..., Participant],
    client_for: Callable[[Any], Any],
) -> None:
    participant = ready_participant()
    viewer = make_user(role, [site] if role in SITE_BOUND else [])
    if site == "S02":
        # A user of another site does not see her at all (404), so no button either.
        response = client_for(viewer).get(reverse("participants:detail", args=[participant.pk]))
        assert response.status_code == 404
        return
    response = client_for(viewer).get(reverse("participants:detail", args=[participant.pk]))
    html = response.content.decode()
    verify_url = reverse("quality:verify", args=[participant.pk])
    form_page = client_for(viewer).get(
        reverse("participants:form", args=[participant.pk, "eligibility"])
    )
    assert form_page.status_code == 200
    may = policy.permissions_for(viewer, participant)
    shown = {
        action: (verify_url in form_page.content.decode()) if action == "verify" else marker in html
        for action, marker in BUTTONS.items()
    }
    expected = {action: getattr(may, action) for action in BUTTONS}
    assert shown == expected


# -- the one way into a write -----------------------------------------------------------


@pytest.mark.requirement("API-LOCK", "PROT-AE-RECORD")
def test_a_locked_participants_adverse_event_is_refused_before_validation(
    randomized: Participant, coordinator_a: Any, make_user: Callable[..., Any]
) -> None:
    lock_set(
        study=randomized.site.study,
        participant=randomized,
        reason="Review",
        performed_by=make_user("data_manager", []),
    )
    with at("2026-02-25"), pytest.raises(StateConflict, match="locked"):
        adverse_event_record(
            participant=randomized,
            term="",  # invalid: a validation error would come first without the early check
            onset_date=dt.date(2026, 2, 24),
            ctcae_grade=9,
            serious=False,
            related=False,
            outcome="recovered",
            performed_by=coordinator_a,
        )


@pytest.mark.requirement("API-CONV-409-STATE", "API-LOCK")
def test_a_state_conflict_on_a_page_keeps_what_was_typed_and_answers_409(
    ready_participant: Callable[..., Participant],
    coordinator_a: Any,
    make_user: Callable[..., Any],
    client_for: Callable[[Any], Any],
) -> None:
    participant = ready_participant()
    lock_set(
        study=participant.site.study,
        participant=participant,
        reason="Review",
        performed_by=make_user("data_manager", []),
    )
    typed = (participant.screening_date + dt.timedelta(days=2)).isoformat()
    response = client_for(coordinator_a).post(
        reverse("participants:consent", args=[participant.pk]),
        {"consent_date": typed, "consent_version": "1.0", "reason": "Date corrected"},
    )
    html = response.content.decode()
    assert response.status_code == 409
    assert "locked by the data manager" in html
    assert f'value="{typed}"' in html
    assert "Date corrected" in html
