"""Who may do what: one policy function per action of the trial.

Each function decides from the user's role, her site memberships (through
:mod:`ecrf.accounts.selectors`, the one place for site scoping) and, where the
protocol's rule has it, the state of the participant. Services call the function to
enforce it (:func:`enforce`), pages and templates call the same function to decide
which buttons to show, so a page cannot offer what its service refuses.

Called without a participant or site, a function answers for the role alone: the
API's permission classes ask that before any input is read, and the object's site is
checked once the object was found among the user's sites.

The accounts layer sits below the participants: participants, sites and studies are
read by duck typing (``participant.site``, ``participant.status``), never imported.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied
from django.utils import timezone
from django.utils.translation import gettext as _

from ecrf.common import catalogue
from ecrf.common.exceptions import StateConflict
from ecrf.common.locks import standing_lock, standing_study_lock

from .models import User
from .roles import ALL_SITES_ROLES, Role
from .selectors import user_sees_site

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser
    from django.db.models import QuerySet

    from ecrf.participants.models import Participant
    from ecrf.studies.models import Site, Study

    AnyUser = User | AnonymousUser
    Where = Participant | Site | None


@dataclass(frozen=True)
class Decision:
    """A policy's answer: whether the action is allowed, and if not, why.

    ``conflict`` marks a refusal for the state of the data (answered 409), not for
    who the user is (answered 403).
    """

    allowed: bool
    reason: str = ""
    conflict: bool = False

    def __bool__(self) -> bool:
        return self.allowed


ALLOWED = Decision(True)

#: The signature of every per-participant policy function.
Policy = Callable[..., Decision]


def enforce(decision: Decision) -> None:
    """Raise what a refusal means: ``PermissionDenied`` (403) or a state conflict (409)."""
    if decision.allowed:
        return
    if decision.conflict:
        raise StateConflict(decision.reason)
    raise PermissionDenied(decision.reason)


def _role(user: AnyUser | None) -> str | None:
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    return getattr(user, "role", None) or None


def _site_of(where: Any) -> Site | None:
    if where is None:
        return None
    return getattr(where, "site", where)


def _by_role(user: AnyUser | None, roles: frozenset[str], where: Where, refusal: str) -> Decision:
    """Allowed to ``roles``, at a site of hers when a participant or site is given."""
    if _role(user) not in roles:
        return Decision(False, refusal)
    site = _site_of(where)
    if site is not None and not user_sees_site(user, site):  # type: ignore[arg-type]
        return Decision(False, _("You do not work at this site."))
    return ALLOWED


def _refused_for_state(reason: str) -> Decision:
    return Decision(False, reason, conflict=True)


#: Her statuses before she has consented: nothing of the treatment period is recorded yet.
BEFORE_CONSENT: frozenset[str] = frozenset({"screening", "screen_failed", "eligible"})
#: Roles of the people who work at a site with its participants.
SITE_STAFF_ROLES: frozenset[str] = frozenset({Role.COORDINATOR, Role.INVESTIGATOR})
#: Roles that enter the study data of their sites' participants.
DATA_ENTRY_ROLES: frozenset[str] = frozenset({Role.COORDINATOR})
#: Sponsor roles that review and query the data of the sites they see.
REVIEW_ROLES: frozenset[str] = frozenset({Role.MONITOR, Role.DATA_MANAGER})
#: Roles that take data away (API contract: ``POST /api/v1/exports/``).
EXPORT_ROLES: frozenset[str] = frozenset(
    {Role.MONITOR, Role.DATA_MANAGER, Role.STATISTICIAN, Role.ADMIN}
)
#: Roles offered the API in the menu: the sponsor's data center and the monitors' scripts.
API_ROLES: frozenset[str] = frozenset(
    {Role.MONITOR, Role.DATA_MANAGER, Role.STATISTICIAN, Role.ADMIN}
)
#: Roles that see and manage the randomization lists (allocation concealment).
LIST_ROLES: frozenset[str] = frozenset({Role.STATISTICIAN, Role.ADMIN})
#: Roles that see efficacy results whenever they ask, before the database lock too.
EFFICACY_ALWAYS_ROLES: frozenset[str] = frozenset({Role.STATISTICIAN, Role.ADMIN})
#: Sponsor roles that see efficacy results after the lock or where the study allows.
EFFICACY_AFTER_LOCK_ROLES: frozenset[str] = frozenset({Role.DATA_MANAGER})
#: Roles that see the CONSORT flow and the safety table (over their sites).
SPONSOR_REPORT_ROLES: frozenset[str] = EXPORT_ROLES


# -- participant data -----------------------------------------------------------------


def may_enter_data(user: AnyUser | None, where: Where = None) -> Decision:
    """Coordinators enter and correct study data, for participants of their sites."""
    return _by_role(
        user,
        DATA_ENTRY_ROLES,
        where,
        _("Your role may read this data but not enter or change it."),
    )


def may_edit_participant_data(
    user: AnyUser | None,
    participant: Participant | None = None,
    *,
    continues_after_withdrawal: bool = False,
) -> Decision:
    """Coordinators of her site change her data, unless it stands under a lock (hers or
    the study's database lock) or she has withdrawn: then the write is refused (409), by
    the database guard or by the service, so a page offers no Edit, Record or Save that
    would only end in that refusal. A form that goes on after her withdrawal (safety
    follow-up: adverse events, safety labs) says so with ``continues_after_withdrawal``."""
    decision = may_enter_data(user, participant)
    withdrawn = participant is not None and participant.status == "withdrawn"
    if decision and withdrawn and not continues_after_withdrawal:
        assert participant is not None
        return _refused_for_state(
            _("%(subject)s has withdrawn; no new data can be entered.")
            % {"subject": participant.subject_id}
        )
    return _unless_locked(decision, participant)


def _unless_locked(decision: Decision, participant: Participant | None) -> Decision:
    """``decision``, refused for the state of her data (409) while a lock stands over it:
    what the database guard would refuse, the page does not offer."""
    if not decision or participant is None:
        return decision
    lock = standing_lock(participant)
    if lock is not None:
        return _refused_for_state(lock.refusal(participant.site.time_zone))
    return decision


def may_register(user: AnyUser | None, site: Site | None = None) -> Decision:
    """Coordinators register screened people in their sites' screening logs."""
    return _by_role(
        user, DATA_ENTRY_ROLES, site, _("Only coordinators register screened participants.")
    )


def may_randomize(user: AnyUser | None, participant: Participant | None = None) -> Decision:
    """Coordinators randomize the eligible, consented participants of their sites, unless
    her data is locked."""
    return _unless_locked(
        _by_role(
            user, DATA_ENTRY_ROLES, participant, _("Only coordinators randomize participants.")
        ),
        participant,
    )


def may_record_adverse_events(
    user: AnyUser | None, participant: Participant | None = None
) -> Decision:
    """Coordinators and investigators record and correct adverse events at their sites,
    from her consent on (refused before it, 409)."""
    decision = _by_role(
        user,
        SITE_STAFF_ROLES,
        participant,
        _("Your role may read adverse events but not record them."),
    )
    if decision and participant is not None and participant.status in BEFORE_CONSENT:
        return _refused_for_state(
            _("%(subject)s has not consented; adverse events are recorded from her consent on.")
            % {"subject": participant.subject_id}
        )
    return decision


def may_confirm_adverse_events(
    user: AnyUser | None, participant: Participant | None = None
) -> Decision:
    """Only an investigator of her site confirms the assessment of an adverse event."""
    return _by_role(
        user,
        frozenset({Role.INVESTIGATOR}),
        participant,
        _("Only an investigator may confirm an adverse event."),
    )


def may_withdraw(user: AnyUser | None, participant: Participant | None = None) -> Decision:
    """Site staff of her site record a withdrawal, unless she has withdrawn or completed
    or her data is locked."""
    decision = _by_role(
        user,
        SITE_STAFF_ROLES,
        participant,
        _("Only site staff of her site record a withdrawal."),
    )
    if not decision or participant is None:
        return decision
    if participant.status == "withdrawn":
        return _refused_for_state(
            _("%(subject)s has already withdrawn.") % {"subject": participant.subject_id}
        )
    if participant.status == "completed":
        return _refused_for_state(
            _("%(subject)s has completed the study.") % {"subject": participant.subject_id}
        )
    return _unless_locked(decision, participant)


def may_unblind(user: AnyUser | None, participant: Participant | None = None) -> Decision:
    """An investigator of her site reveals a randomized participant's arm in a blinded study."""
    decision = _by_role(
        user,
        frozenset({Role.INVESTIGATOR}),
        participant,
        _("Only an investigator of her site may unblind a participant."),
    )
    if not decision or participant is None:
        return decision
    if not participant.site.study.blinded:
        return _refused_for_state(_("This study is open-label; there is nothing to unblind."))
    if getattr(participant, "allocation", None) is None:
        return _refused_for_state(_("She has not been randomized; there is no arm to reveal."))
    return decision


def may_view_history(user: AnyUser | None, where: Where = None) -> Decision:
    """Every role reads the full history of the records of the sites she sees."""
    return _by_role(user, frozenset(Role), where, _("Your account has no role in this study."))


def may_read_forms(user: AnyUser | None, where: Where = None) -> Decision:
    """Every role reads the forms of the participants of the sites she sees; fields that
    reveal the arm stay hidden from the roles a blinded study names."""
    return _by_role(user, frozenset(Role), where, _("Your account has no role in this study."))


# -- data quality ---------------------------------------------------------------------


def may_sign(user: AnyUser | None, participant: Participant | None = None) -> Decision:
    """An investigator of her site signs the casebook."""
    return _by_role(
        user,
        frozenset({Role.INVESTIGATOR}),
        participant,
        _("Only an investigator of her site signs her casebook."),
    )


def may_verify(user: AnyUser | None, participant: Participant | None = None) -> Decision:
    """A monitor of her site marks data as verified against source."""
    return _by_role(
        user,
        frozenset({Role.MONITOR}),
        participant,
        _("Only a monitor of her site verifies her data."),
    )


def may_view_verification_progress(user: AnyUser | None, where: Where = None) -> Decision:
    """Monitors (of their sites) and data managers follow the progress of source data
    verification, per participant and per site."""
    return _by_role(
        user,
        REVIEW_ROLES,
        where,
        _("Only monitors and data managers follow the progress of source data verification."),
    )


def may_lock(user: AnyUser | None, participant: Participant | None = None) -> Decision:
    """Data managers lock and unlock a form, a participant or the whole study."""
    return _by_role(
        user, frozenset({Role.DATA_MANAGER}), participant, _("Only data managers lock data.")
    )


def may_raise_query(user: AnyUser | None, participant: Participant | None = None) -> Decision:
    """Monitors and data managers raise queries on the data of the sites they see."""
    return _by_role(
        user, REVIEW_ROLES, participant, _("Only monitors and data managers raise queries.")
    )


def may_close_query(user: AnyUser | None, participant: Participant | None = None) -> Decision:
    """Monitors and data managers close (and re-open) the queries of the sites they see."""
    return _by_role(
        user,
        REVIEW_ROLES,
        participant,
        _("Only monitors and data managers close or re-open queries."),
    )


def may_answer_query(user: AnyUser | None, participant: Participant | None = None) -> Decision:
    """Coordinators and investigators of her site answer queries."""
    return _by_role(
        user, SITE_STAFF_ROLES, participant, _("Only site staff of her site answer queries.")
    )


def may_review_audit(user: AnyUser | None, where: Where = None) -> Decision:
    """Monitors (the sites they see), data managers and admins review the audit trail
    with its risk signals (API contract: ``GET /api/v1/audit-events/``)."""
    return _by_role(
        user,
        frozenset({Role.MONITOR, Role.DATA_MANAGER, Role.ADMIN}),
        where,
        _("Only monitors, data managers and administrators review the audit trail."),
    )


def may_sign_off_audit_review(user: AnyUser | None, where: Where = None) -> Decision:
    """Monitors (of the site) and data managers record that they reviewed a site's trail."""
    return _by_role(
        user,
        REVIEW_ROLES,
        where,
        _("Only monitors and data managers sign off an audit-trail review."),
    )


# -- sponsor-side actions -------------------------------------------------------------


def may_export(user: AnyUser | None, kind: str | None = None) -> Decision:
    """Monitors, data managers, statisticians and admins export (every kind); site staff do not."""
    return _by_role(
        user,
        EXPORT_ROLES,
        None,
        _("Only monitors, data managers, statisticians and administrators export data."),
    )


def may_manage_lists(user: AnyUser | None) -> Decision:
    """Only statisticians and admins see, export, generate and extend randomization lists."""
    return _by_role(
        user,
        LIST_ROLES,
        None,
        _("Only statisticians and administrators manage randomization lists."),
    )


def may_administer(user: AnyUser | None) -> Decision:
    """Administrators manage accounts, sites and the admin's read-only views."""
    return _by_role(
        user,
        frozenset({Role.ADMIN}),
        None,
        _("Only administrators manage accounts and sites."),
    )


def may_change_study_settings(
    user: AnyUser | None, study: Study | None = None, settings: Collection[str] = ()
) -> Decision:
    """Administrators change the study's settings; none of its design and analysis
    settings (``settings`` names those to change) while the study database is locked,
    which the database guard would refuse."""
    decision = _by_role(
        user,
        frozenset({Role.ADMIN}),
        None,
        _("Only administrators change the study's settings."),
    )
    if not decision or study is None:
        return decision
    frozen = sorted(
        str(catalogue.study_setting(name).label)
        for name in settings
        if catalogue.study_setting(name).frozen_by_study_lock
    )
    if not frozen:
        return decision
    lock = standing_study_lock(study.pk)
    if lock is None:
        return decision
    refusal = _(
        "The study database is locked, so its design and analysis settings cannot change "
        "(asked to change: %(settings)s) until a data manager unlocks it."
    ) % {"settings": ", ".join(frozen)}
    return _refused_for_state(f"{refusal} {lock.explanation(timezone.get_current_timezone_name())}")


def may_use_api(user: AnyUser | None) -> Decision:
    """Monitors, data managers, statisticians and administrators are offered the API (its
    documentation and a key) in the menu; site staff work in the pages. The API's own
    routes keep their rules: this decides what the menu offers, not who is answered."""
    return _by_role(
        user,
        API_ROLES,
        None,
        _("Only monitors, data managers, statisticians and administrators use the API."),
    )


def may_revoke_api_key(user: AnyUser | None, api_key: Any = None) -> Decision:
    """An API key is revoked by its owner or by an administrator (nobody else learns
    that it exists)."""
    if _role(user) == Role.ADMIN:
        return ALLOWED
    active = getattr(user, "is_authenticated", False) and user.is_active  # type: ignore[union-attr]
    if active and (api_key is None or api_key.user_id == user.pk):  # type: ignore[union-attr]
        return ALLOWED
    return Decision(False, _("Only the key's owner or an administrator revokes an API key."))


def api_key_owner_seen_by(user: User) -> User | None:
    """Whose API keys a user sees and may revoke: her own (``None``: an administrator,
    everyone's)."""
    return None if may_administer(user) else user


def may_download_checkpoints(user: AnyUser | None, where: Where = None) -> Decision:
    """Administrators and data managers take the audit trail's checkpoints away, for the
    sponsor to keep outside the installation (they name no participant's data)."""
    return _by_role(
        user,
        frozenset({Role.ADMIN, Role.DATA_MANAGER}),
        None,
        _("Only administrators and data managers download the audit trail's checkpoints."),
    )


def may_read_access_review(user: AnyUser | None, where: Where = None) -> Decision:
    """Administrators and data managers read who has access to what, and since when
    (ICH E6(R3) 4.3.8; API contract: ``GET /api/v1/access-review/``)."""
    return _by_role(
        user,
        frozenset({Role.ADMIN, Role.DATA_MANAGER}),
        None,
        _("Only administrators and data managers read the access review."),
    )


def may_record_access_review(user: AnyUser | None, where: Where = None) -> Decision:
    """Only administrators record a periodic access review and the accounts to change."""
    return _by_role(
        user,
        frozenset({Role.ADMIN}),
        None,
        _("Only administrators record an access review."),
    )


def sees_all_sites(user: AnyUser | None) -> bool:
    """Sponsor-wide roles see every site, and so the study-wide summaries."""
    return _role(user) in ALL_SITES_ROLES


def is_site_staff(user: AnyUser | None) -> bool:
    """Coordinators and investigators: the people who work at a site."""
    return getattr(user, "role", None) in SITE_STAFF_ROLES


def arms_hidden_from(user: AnyUser | None, study: Study) -> bool:
    """In a blinded study the roles it names see no arm and no result split by arm."""
    return bool(study.blinded and _role(user) in study.blinded_roles)


def concealed_from(user: AnyUser | None, study: Study | None) -> tuple[str, ...]:
    """Models (``app_label.Model``) whose rows and history ``user`` may not see, on every
    page, answer, export and audit view: the randomization lists and allocations unless
    she keeps the lists (allocation concealment), and, in a blinded study, for the roles
    it names, every model the catalogue says names an arm (blinding)."""
    hidden = [] if may_manage_lists(user) else list(catalogue.concealed_models())
    if study is not None and arms_hidden_from(user, study):
        hidden += catalogue.blinded_models()
    return tuple(dict.fromkeys(hidden))


def may_view_site_reports(user: AnyUser | None) -> Decision:
    """Every role sees enrollment and data quality, over the sites she sees."""
    return may_view_history(user)


def may_view_sponsor_reports(user: AnyUser | None) -> Decision:
    """The sponsor's side (monitors, data managers, statisticians, admins) sees the
    CONSORT flow and the safety table, over the sites she sees."""
    return _by_role(
        user,
        SPONSOR_REPORT_ROLES,
        None,
        _("The CONSORT flow and the safety table are for the sponsor's monitors and staff."),
    )


def may_view_efficacy(user: AnyUser | None, study: Study, *, database_locked: bool) -> Decision:
    """Statisticians and admins always; data managers after the lock or where allowed.

    The efficacy report is study-wide, so roles bound to their sites never see it; in a
    blinded study the roles it names never see results split by arm.
    """
    role = _role(user)
    if arms_hidden_from(user, study):
        return Decision(
            False, _("The efficacy results are split by arm, which your role may not see.")
        )
    if role in EFFICACY_ALWAYS_ROLES:
        return ALLOWED
    if role in EFFICACY_AFTER_LOCK_ROLES:
        if database_locked or study.efficacy_visible_before_lock:
            return ALLOWED
        return Decision(
            False,
            _("The efficacy results are shown to data managers once the study database is locked."),
        )
    return Decision(
        False,
        _(
            "The efficacy results are study-wide; statisticians and the sponsor's data "
            "managers see them."
        ),
    )


# -- who is told ----------------------------------------------------------------------


def _active_with_role(role: str) -> QuerySet[User]:
    return User.objects.filter(role=role, is_active=True)


def told_of_unblinding() -> QuerySet[User]:
    """The data managers are told of every unblinding."""
    return _active_with_role(Role.DATA_MANAGER)


def told_of_exhausted_list() -> QuerySet[User]:
    """The statisticians are told when a randomization list runs out."""
    return _active_with_role(Role.STATISTICIAN)


def told_of_broken_audit_trail() -> QuerySet[User]:
    """The administrators are told when the nightly audit-trail check fails."""
    return _active_with_role(Role.ADMIN)


def reminded_of_visits() -> QuerySet[User]:
    """Coordinators get the visit and dosing reminders of their sites."""
    return _active_with_role(Role.COORDINATOR)


# -- what a page shows ----------------------------------------------------------------


def may_print_casebook(user: AnyUser | None, participant: Any) -> Decision:
    """Whoever exports and may read her forms has her casebook printed (a certified copy
    of what she reads on the forms' pages)."""
    decision = may_export(user)
    if not decision:
        return decision
    return may_read_forms(user, participant)


class Permissions:
    """The policy answers of one user for one participant (or none), for a template.

    ``{% if may.sign %}`` in a template calls :func:`may_sign` with the page's user and
    participant: a page shows an action's button exactly when the policy allows it.
    """

    def __init__(self, user: AnyUser | None, participant: Any = None) -> None:
        self._user = user
        self._participant = participant
        self._answers: dict[str, bool] = {}

    def __getattr__(self, action: str) -> bool:
        if action.startswith("_"):
            raise AttributeError(action)
        if action not in self._answers:
            policy = PAGE_ACTIONS.get(action)
            if policy is None:
                raise AttributeError(action)
            self._answers[action] = bool(policy(self._user, self._participant))
        return self._answers[action]


#: The actions a page may ask about, by the name templates use (``may.<name>``).
PAGE_ACTIONS: dict[str, Policy] = {
    "enter_data": may_enter_data,
    "edit_data": may_edit_participant_data,
    "randomize": may_randomize,
    "record_adverse_events": may_record_adverse_events,
    "confirm_adverse_events": may_confirm_adverse_events,
    "withdraw": may_withdraw,
    "unblind": may_unblind,
    "view_history": may_view_history,
    "read_forms": may_read_forms,
    "sign": may_sign,
    "verify": may_verify,
    "view_verification_progress": may_view_verification_progress,
    "lock": may_lock,
    "raise_query": may_raise_query,
    "close_query": may_close_query,
    "answer_query": may_answer_query,
    "review_audit": may_review_audit,
    "download_checkpoints": may_download_checkpoints,
    "print_casebook": may_print_casebook,
    "read_access_review": may_read_access_review,
    "record_access_review": may_record_access_review,
}


def permissions_for(user: AnyUser | None, participant: Any = None) -> Permissions:
    """What ``user`` may do with ``participant``, asked lazily by the template."""
    return Permissions(user, participant)
