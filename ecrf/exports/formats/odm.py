"""CDISC ODM 1.3.2 exports: the audit trail and the clinical data, streamed as XML.

Both files are ``FileType="Transactional"`` and share one layout:

- ``Study``: the study's names and one ``MetaDataVersion`` describing every form the
  export may contain (from :mod:`ecrf.exports.formats.dictionary`): study events, forms,
  item groups, items with their labels in English and Japanese, types, lengths, units
  and code lists;
- ``AdminData``: the users the file names (``USR.<id>``, and ``USR.SYSTEM`` for changes
  made by a scheduled task or a command), the sites (``LOC.<site code>``) and one
  ``SignatureDef`` per meaning of the investigators' signatures;
- ``ClinicalData``: one ``SubjectData`` per participant (``SubjectKey`` is her subject
  ID), ``StudyEventData`` / ``FormData`` (a repeating form's ``FormRepeatKey`` is the
  record's id) / ``ItemGroupData`` / ``ItemData``.

The audit trail (:func:`write_audit_odm`) has one ``ItemData`` per change, in the order
the changes were made, with ``TransactionType`` ``Insert``, ``Update`` or ``Remove``
and an ``AuditRecord``: who (``UserRef``), where (``LocationRef``: her site), when
(``DateTimeStamp``), why (``ReasonForChange``) and which audit event
(``SourceID``: ``<event table>:<event id>``, as the hash chain names it). Every
signature of a casebook follows as a ``Signature`` of its participant's ``SubjectData``.
It holds the audit trail of the forms' items; the trail of everything else (queries,
locks, verifications, users, settings) is in the CSV export.

The clinical data (:func:`write_clinical_odm`) holds the current value of every item,
each form's record as ``TransactionType="Upsert"`` with an ``AuditRecord`` of its last
change, and the casebook's latest valid signature.

The head of the audit trail's hash chain is stated in a comment at the top of ``ODM``.
Values are written as every export writes them (booleans ``1``/``0``, ISO 8601 dates
and date-times with the study's offset, lists of codes joined by ``;``).
"""

from __future__ import annotations

import datetime as dt
import heapq
import logging
import re
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from django.db import models
from django.db.models import F, OuterRef, Subquery
from django.utils import timezone
from lxml import etree

from ecrf.accounts.models import SiteMembership, User
from ecrf.accounts.policy import is_site_staff
from ecrf.audit.selectors import actor_sql
from ecrf.common import catalogue
from ecrf.quality.models import Signature
from ecrf.studies.models import Arm, Site, Study

from .audit import (
    PROGRESS_ROWS,
    AuditRow,
    audit_events_query,
    audit_rows,
    estimate_audit_rows,
    event_model_of,
    export_transaction,
)
from .base import ExportScope, Progress
from .dictionary import (
    FieldDef,
    FormDef,
    forms_in_scope,
    in_language,
    study_zone,
    value_to_text,
)

logger = logging.getLogger(__name__)

ODM_NS = "http://www.cdisc.org/ns/odm/v1.3"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
ODM_VERSION = "1.3.2"

#: The actor of an event written outside the app and naming no program.
SYSTEM_DATABASE = "system:database"

TRANSACTION_TYPES = {"create": "Insert", "update": "Update", "delete": "Remove"}

#: Roles on the site's side of the trial (ODM ``UserType="Investigator"``).

LEGAL_REASON = (
    "Electronic signature under 21 CFR Part 11: the investigator re-entered her password; "
    "the signature binds her printed name, the time and the meaning to the casebook."
)


def q(tag: str) -> str:
    """An element name in the ODM namespace."""
    return f"{{{ODM_NS}}}{tag}"


#: What XML 1.0 cannot hold: control characters other than tab, newline and carriage
#: return, lone surrogates, and the non-characters U+FFFE and U+FFFF.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_safe(value: str) -> str:
    """``value`` as XML can hold it: each character it cannot (a control character stored
    before text was checked at the boundary, say) becomes U+FFFD, and the export logs
    it, so that such data never makes the file fail to be written."""
    cleaned, replaced = _NOT_XML.subn("\ufffd", value)
    if replaced:
        logger.warning("ODM export: %d character(s) XML cannot hold written as U+FFFD", replaced)
    return cleaned


def _xml_attributes(attrib: dict[str, str | None]) -> dict[str, str]:
    return {k: xml_safe(v) for k, v in attrib.items() if v is not None}


def _element(tag: str, attrib: dict[str, str] | None = None, **extra: str) -> etree._Element:
    """A free-standing ODM element, declaring the namespace once for the subtree."""
    values = _xml_attributes({**(attrib or {}), **extra})
    return etree.Element(q(tag), values, nsmap={None: ODM_NS})


def _sub(
    parent: etree._Element, tag: str, text: str | None = None, **attrib: str | None
) -> etree._Element:
    child = etree.SubElement(parent, q(tag), _xml_attributes(attrib))
    if text is not None:
        child.text = xml_safe(text)
    return child


def _translated(parent: etree._Element, tag: str, texts: Iterable[tuple[str, str]]) -> None:
    """``<tag>`` holding one ``TranslatedText`` per language that has a text."""
    holder = _sub(parent, tag)
    for language, text in texts:
        if text:
            _sub(holder, "TranslatedText", text).set(XML_LANG, language)


def _timestamp(moment: dt.datetime) -> str:
    return moment.astimezone(study_zone()).isoformat()


def _location(site_code: str | None) -> str:
    return f"LOC.{site_code}" if site_code else "LOC.SPONSOR"


def _user_oid(user_id: Any, actor: str | None = None) -> str:
    """A person's OID (``USR.<id>``), or the OID of the system actor that made the change
    (``USR.SYSTEM.<command or task>``)."""
    if user_id not in (None, "") and str(user_id).isdigit():
        return f"USR.{user_id}"
    name = (actor or SYSTEM_DATABASE).removeprefix("system:")
    return "USR.SYSTEM." + re.sub(r"[^A-Za-z0-9_.-]", "_", name)


# -- the study's metadata ----------------------------------------------------------------


@dataclass
class Metadata:
    """The forms of the file, how they are grouped in study events, and their OIDs."""

    study_oid: str
    mdv_oid: str
    forms: list[FormDef]
    event_of: dict[str, str] = field(default_factory=dict)
    events: list[tuple[str, str, str, list[FormDef]]] = field(default_factory=list)

    @classmethod
    def of(cls, scope: ExportScope, study: Study) -> Metadata:
        forms = forms_in_scope(scope)
        by_name = {form.name: form for form in forms}
        events: list[tuple[str, str, str, list[FormDef]]] = []
        for visit in catalogue.VISITS:
            members = [
                by_name[entry.code]
                for entry in catalogue.case_report_forms()
                if entry.visit == visit.code and entry.code in by_name
            ]
            if members:
                kind = "Scheduled" if visit.scheduled else "Common"
                name = in_language("en", visit.label)
                events.append((f"SE.{visit.code.upper()}", name, kind, members))
        event_of = {form.name: oid for oid, _n, _k, members in events for form in members}
        code = study.code.upper()
        return cls(
            study_oid=f"ST.{code}",
            mdv_oid=f"MDV.{code}.1",
            forms=[form for _o, _n, _k, members in events for form in members],
            event_of=event_of,
            events=events,
        )

    def order(self, form: FormDef) -> int:
        return self.forms.index(form)


def _units(forms: Iterable[FormDef]) -> dict[str, str]:
    """A measurement unit OID for every unit the forms name (a unit is one word)."""
    units: dict[str, str] = {}
    for form in forms:
        for item in form.fields:
            if item.unit and " " not in item.unit and item.unit not in units:
                units[item.unit] = f"MU.{len(units) + 1}"
    return units


def _code_list_oid(form: FormDef, item: FieldDef) -> str | None:
    if not item.allowed_values or item.data_type == "boolean":
        return None
    return f"CL.{form.name.upper()}.{item.name.upper()}"


def _study_element(metadata: Metadata, study: Study) -> etree._Element:
    root = _element("Study", OID=metadata.study_oid)
    variables = _sub(root, "GlobalVariables")
    _sub(variables, "StudyName", study.code)
    _sub(variables, "StudyDescription", study.title_en)
    _sub(variables, "ProtocolName", study.registry_id or study.code)
    units = _units(metadata.forms)
    if units:
        basic = _sub(root, "BasicDefinitions")
        for unit, oid in units.items():
            measurement = _sub(basic, "MeasurementUnit", OID=oid, Name=unit)
            _translated(measurement, "Symbol", [("en", unit)])
    mdv = _sub(
        root,
        "MetaDataVersion",
        OID=metadata.mdv_oid,
        Name=f"{study.code} eCRF",
        Description=study.title_en,
    )
    protocol = _sub(mdv, "Protocol")
    for number, (oid, _name, _kind, _members) in enumerate(metadata.events, start=1):
        _sub(protocol, "StudyEventRef", StudyEventOID=oid, OrderNumber=str(number), Mandatory="No")
    for oid, name, kind, members in metadata.events:
        event = _sub(mdv, "StudyEventDef", OID=oid, Name=name, Repeating="No", Type=kind)
        for number, form in enumerate(members, start=1):
            _sub(event, "FormRef", FormOID=form.oid, OrderNumber=str(number), Mandatory="No")
    for form in metadata.forms:
        form_def = _sub(
            mdv, "FormDef", OID=form.oid, Name=form.label_en, Repeating=_yes(form.repeating)
        )
        _translated(form_def, "Description", [("en", form.label_en), ("ja", form.label_ja)])
        _sub(form_def, "ItemGroupRef", ItemGroupOID=form.item_group_oid, Mandatory="Yes")
    for form in metadata.forms:
        group = _sub(
            mdv,
            "ItemGroupDef",
            OID=form.item_group_oid,
            Name=form.name,
            Repeating="No",
            SASDatasetName=form.sas_name,
        )
        for number, item in enumerate(form.fields, start=1):
            _sub(
                group,
                "ItemRef",
                ItemOID=item.oid,
                OrderNumber=str(number),
                Mandatory=_yes(item.mandatory),
            )
    for form in metadata.forms:
        for item in form.fields:
            _item_def(mdv, form, item, units)
    for form in metadata.forms:
        for item in form.fields:
            _code_list(mdv, form, item)
    return root


def _yes(flag: bool) -> str:
    return "Yes" if flag else "No"


def _item_def(mdv: etree._Element, form: FormDef, item: FieldDef, units: dict[str, str]) -> None:
    attrib = {"OID": item.oid, "Name": item.name, "DataType": item.data_type}
    if item.length and item.data_type in {"text", "integer", "float"}:
        attrib["Length"] = str(item.length)
    if item.data_type == "float" and item.fraction_digits is not None:
        attrib["SignificantDigits"] = str(item.fraction_digits)
    if item.sas_name:
        attrib["SASFieldName"] = item.sas_name
    item_def = _sub(mdv, "ItemDef", **attrib)
    checks = [("en", " ".join(item.edit_checks)), ("ja", " ".join(item.edit_checks_ja))]
    if any(text for _language, text in checks):
        _translated(item_def, "Description", checks)
    _translated(item_def, "Question", [("en", item.label_en), ("ja", item.label_ja)])
    if item.unit in units:
        _sub(item_def, "MeasurementUnitRef", MeasurementUnitOID=units[item.unit])
    code_list = _code_list_oid(form, item)
    if code_list:
        _sub(item_def, "CodeListRef", CodeListOID=code_list)


def _code_list(mdv: etree._Element, form: FormDef, item: FieldDef) -> None:
    oid = _code_list_oid(form, item)
    if oid is None:
        return
    data_type = "integer" if item.data_type == "integer" else "text"
    code_list = _sub(mdv, "CodeList", OID=oid, Name=item.label_en, DataType=data_type)
    japanese = dict(item.allowed_values_ja)
    for number, (code, label) in enumerate(item.allowed_values, start=1):
        entry = _sub(code_list, "CodeListItem", CodedValue=code, OrderNumber=str(number))
        _translated(entry, "Decode", [("en", label), ("ja", japanese.get(code, ""))])


# -- who and where -----------------------------------------------------------------------


@dataclass
class _Signature:
    subject_id: str
    site_code: str
    user_id: int
    signed_at: dt.datetime
    meaning: str


def _signatures(scope: ExportScope, *, valid_only: bool) -> list[_Signature]:
    """The casebook signatures of the scope's participants, oldest first."""
    signatures = Signature.objects.filter(participant__site_id__in=scope.site_ids)
    if scope.subject_id is not None:
        signatures = signatures.filter(participant__subject_id=scope.subject_id)
    if valid_only:
        signatures = signatures.filter(voided_at__isnull=True)
    if scope.since is not None:
        signatures = signatures.filter(signed_at__date__gte=scope.since)
    if scope.until is not None:
        signatures = signatures.filter(signed_at__date__lte=scope.until)
    return [
        _Signature(
            subject_id=row["participant__subject_id"],
            site_code=row["participant__site__code"],
            user_id=row["signed_by_id"],
            signed_at=row["signed_at"],
            meaning=row["meaning"],
        )
        for row in signatures.order_by("signed_at", "pk").values(
            "participant__subject_id",
            "participant__site__code",
            "signed_by_id",
            "signed_at",
            "meaning",
        )
    ]


def _admin_element(
    metadata: Metadata,
    scope: ExportScope,
    user_ids: set[int],
    names_in_trail: dict[int, str],
    meanings: dict[str, str],
    system_actors: set[str],
) -> etree._Element:
    sites = list(Site.objects.filter(pk__in=scope.site_ids).order_by("code"))
    codes = {site.pk: site.code for site in sites}
    memberships: dict[int, list[str]] = {}
    for user_id, site_id in SiteMembership.objects.filter(
        user_id__in=user_ids, site_id__in=codes
    ).values_list("user_id", "site_id"):
        memberships.setdefault(user_id, []).append(codes[site_id])
    admin = _element("AdminData", StudyOID=metadata.study_oid)
    known = {user.pk: user for user in User.objects.filter(pk__in=user_ids)}
    for user_id in sorted(user_ids):
        user = known.get(user_id)
        entry = _sub(
            admin,
            "User",
            OID=_user_oid(user_id),
            UserType="Investigator" if is_site_staff(user) else "Sponsor",
        )
        _sub(entry, "LoginName", user.get_username() if user else names_in_trail.get(user_id, ""))
        if user is not None:
            _sub(entry, "DisplayName", str(user))
            full_name = user.get_full_name()
            if full_name:
                _sub(entry, "FullName", full_name)
        for code in sorted(memberships.get(user_id, [])):
            _sub(entry, "LocationRef", LocationOID=_location(code))
    for actor in sorted(system_actors | {SYSTEM_DATABASE}):
        system = _sub(admin, "User", OID=_user_oid(None, actor), UserType="Other")
        _sub(system, "LoginName", actor)
        _sub(system, "DisplayName", "System (command, scheduled task or database program)")
    today = timezone.localdate(timezone=study_zone()).isoformat()
    for site in sites:
        location = _sub(
            admin, "Location", OID=_location(site.code), Name=site.name_en, LocationType="Site"
        )
        _sub(
            location,
            "MetaDataVersionRef",
            StudyOID=metadata.study_oid,
            MetaDataVersionOID=metadata.mdv_oid,
            EffectiveDate=today,
        )
    sponsor = _sub(admin, "Location", OID=_location(None), Name="Sponsor", LocationType="Sponsor")
    _sub(
        sponsor,
        "MetaDataVersionRef",
        StudyOID=metadata.study_oid,
        MetaDataVersionOID=metadata.mdv_oid,
        EffectiveDate=today,
    )
    for meaning, oid in meanings.items():
        definition = _sub(admin, "SignatureDef", OID=oid, Methodology="Electronic")
        _sub(definition, "Meaning", meaning)
        _sub(definition, "LegalReason", LEGAL_REASON)
    return admin


def _signature_element(signature: _Signature, meanings: dict[str, str]) -> etree._Element:
    """A ``SubjectData`` holding one signature of the participant's casebook."""
    subject = _element("SubjectData", SubjectKey=signature.subject_id)
    subject.append(_signature(signature, meanings))
    _sub(subject, "SiteRef", LocationOID=_location(signature.site_code))
    return subject


def _signature(signature: _Signature, meanings: dict[str, str]) -> etree._Element:
    element = _element("Signature")
    _sub(element, "UserRef", UserOID=_user_oid(signature.user_id))
    _sub(element, "LocationRef", LocationOID=_location(signature.site_code))
    _sub(element, "SignatureRef", SignatureOID=meanings[signature.meaning])
    _sub(element, "DateTimeStamp", _timestamp(signature.signed_at))
    return element


def _meanings(signatures: Iterable[_Signature]) -> dict[str, str]:
    meanings: dict[str, str] = {}
    for signature in signatures:
        meanings.setdefault(signature.meaning, f"SD.{len(meanings) + 1}")
    return meanings


def _study(scope: ExportScope) -> Study:
    return Study.objects.get(pk=scope.study_id)


@contextmanager
def _document(
    out: BinaryIO, *, metadata: Metadata, chain_head: str, description: str
) -> Iterator[Any]:
    """The ``ODM`` root written incrementally to ``out``: yields the writer inside it."""
    created = _timestamp(timezone.now())
    with etree.xmlfile(out, encoding="UTF-8") as xf:
        xf.write_declaration()
        with xf.element(
            q("ODM"),
            {
                "FileType": "Transactional",
                "FileOID": f"{metadata.study_oid}.{created}",
                "CreationDateTime": created,
                "ODMVersion": ODM_VERSION,
                "Description": description,
                "Originator": "eCRF",
                "SourceSystem": "eCRF",
            },
            nsmap={None: ODM_NS},
        ):
            xf.write(etree.Comment(f" audit trail hash chain head (SHA-256): {chain_head} "))
            yield xf


class _SubjectWriter:
    """Opens one ``SubjectData`` per run of a participant's elements, closing the last."""

    def __init__(self, xf: Any) -> None:
        self.xf = xf
        self.subject: str | None = None
        self._open = ExitStack()

    def enter(
        self, subject_id: str, site_code: str, signature: etree._Element | None = None
    ) -> None:
        if subject_id == self.subject:
            return
        self.close()
        self._open.enter_context(self.xf.element(q("SubjectData"), SubjectKey=subject_id))
        if signature is not None:
            self.xf.write(signature)
        self.xf.write(_element("SiteRef", LocationOID=_location(site_code)))
        self.subject = subject_id

    def close(self) -> None:
        self._open.close()
        self.subject = None


# -- the audit trail ---------------------------------------------------------------------


@dataclass
class _Change:
    """The rows of one audit event that belong in the file, and how it reads in ODM."""

    row: AuditRow
    form: FormDef
    items: list[tuple[FieldDef, AuditRow]]
    transaction_type: str


class _Changes:
    """The audit rows gathered per event, for the forms and items of the file.

    A record that becomes a participant's by an update (a randomization slot when she is
    allocated to it) enters her casebook there: that update is written as the ``Insert``
    of every value the record then held, read from the event itself.
    """

    def __init__(self, metadata: Metadata, arm_codes: dict[str, str]) -> None:
        self.forms = {form.model.lower(): form for form in metadata.forms}
        self.items = {
            form.name: {item.name: item for item in form.fields} for form in metadata.forms
        }
        self.arm_codes = arm_codes
        self.read = 0

    def __call__(self, rows: Iterable[AuditRow]) -> Iterator[_Change | None]:
        """Yields one change per event (``None`` for an event left out)."""
        gathered: list[AuditRow] = []
        for row in rows:
            if gathered and row.event != gathered[0].event:
                yield self._change(gathered)
                gathered = []
            gathered.append(row)
            self.read += 1
        if gathered:
            yield self._change(gathered)

    def _change(self, rows: list[AuditRow]) -> _Change | None:
        first = rows[0]
        form = self.forms.get(first.model)
        if form is None or first.subject_id is None:
            return None
        owner = form.participant_path.split("__")[0]
        if first.action == "update" and any(
            row.field == owner and not row.old_value for row in rows
        ):
            return self._joined(first, form)
        items = self.items[form.name]
        kept = [
            (items[row.field], self._readable(items[row.field], row))
            for row in rows
            if row.field in items
        ]
        if not kept:
            return None
        return _Change(first, form, kept, TRANSACTION_TYPES[first.action])

    def _readable(self, item: FieldDef, row: AuditRow) -> AuditRow:
        if not item.arm:
            return row
        return row._replace(
            old_value=self.arm_codes.get(row.old_value or "", row.old_value),
            new_value=self.arm_codes.get(row.new_value or "", row.new_value),
        )

    def _joined(self, first: AuditRow, form: FormDef) -> _Change | None:
        event_model = event_model_of(form.model_class)
        if event_model is None:
            return None
        pgh_id = int(first.event.rsplit(":", 1)[1])
        event = event_model._default_manager.filter(pgh_id=pgh_id).values(
            *{item.source or item.name for item in form.fields}
        )[0]
        kept = []
        for item in form.fields:
            text = value_to_text(item, event[item.source or item.name])
            if text != "":
                kept.append((item, first._replace(old_value=None, new_value=text, field=item.name)))
        return _Change(first, form, kept, "Insert") if kept else None


def _audit_record(parent: etree._Element, row: AuditRow) -> None:
    record = _sub(parent, "AuditRecord")
    _sub(record, "UserRef", UserOID=_user_oid(row.user_id, row.user))
    _sub(record, "LocationRef", LocationOID=_location(row.site))
    _sub(record, "DateTimeStamp", row.timestamp)
    if row.reason:
        _sub(record, "ReasonForChange", row.reason)
    _sub(record, "SourceID", row.event)


def _form_path(
    metadata: Metadata, form: FormDef, record_id: str, transaction_type: str | None
) -> tuple[etree._Element, etree._Element]:
    """``StudyEventData/FormData/ItemGroupData`` of one record: (the top, the group)."""
    event = _element("StudyEventData", StudyEventOID=metadata.event_of[form.name])
    form_data = _sub(
        event,
        "FormData",
        FormOID=form.oid,
        FormRepeatKey=record_id if form.repeating else None,
    )
    group = _sub(
        form_data,
        "ItemGroupData",
        ItemGroupOID=form.item_group_oid,
        TransactionType=transaction_type,
    )
    return event, group


def _change_element(metadata: Metadata, change: _Change) -> etree._Element:
    transaction_type = change.transaction_type
    event, group = _form_path(metadata, change.form, change.row.record_id, transaction_type)
    for item, row in change.items:
        attrib = {"ItemOID": item.oid, "TransactionType": transaction_type}
        if transaction_type != "Remove":
            if row.new_value is None or row.new_value == "":
                attrib["IsNull"] = "Yes"
            else:
                attrib["Value"] = row.new_value
        item_data = _sub(group, "ItemData", **attrib)
        _audit_record(item_data, row)
    return event


def _trail_users(scope: ExportScope) -> tuple[set[int], dict[int, str], set[str]]:
    """Who the scope's audit events name: the people's ids and names in the trail, and the
    system actors (commands, tasks, programs)."""
    sql, params = audit_events_query(scope)
    with export_transaction() as raw, raw.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT e.ctx ->> 'user', ecrf_audit_actor(e.ctx, NULL) "  # noqa: S608
            f"FROM ({sql}) e WHERE e.subject_id IS NOT NULL",
            params,
        )
        found = cursor.fetchall()
    ids: set[int] = set()
    names: dict[int, str] = {}
    actors: set[str] = set()
    for user_id, actor in found:
        if user_id and str(user_id).isdigit():
            ids.add(int(user_id))
            names[int(user_id)] = actor or ""
        else:
            actors.add(actor)
    return ids, names, actors


def _arm_codes(scope: ExportScope) -> dict[str, str]:
    return {
        str(pk): code
        for pk, code in Arm.objects.filter(study_id=scope.study_id).values_list("pk", "code")
    }


def write_audit_odm(
    scope: ExportScope, out: BinaryIO, *, progress: Progress, chain_head: str
) -> None:
    """The audit trail of the forms as a transactional ODM 1.3.2 file (see the module)."""
    study = _study(scope)
    metadata = Metadata.of(scope, study)
    signatures = _signatures(scope, valid_only=False)
    meanings = _meanings(signatures)
    user_ids, names, actors = _trail_users(scope)
    user_ids.update(signature.user_id for signature in signatures)
    arm_codes = _arm_codes(scope)
    expected = estimate_audit_rows(scope)
    progress(0, expected)
    next_report = PROGRESS_ROWS
    with _document(out, metadata=metadata, chain_head=chain_head, description="Audit trail") as xf:
        xf.write(_study_element(metadata, study))
        xf.write(_admin_element(metadata, scope, user_ids, names, meanings, actors))
        with xf.element(
            q("ClinicalData"), StudyOID=metadata.study_oid, MetaDataVersionOID=metadata.mdv_oid
        ):
            subjects = _SubjectWriter(xf)
            changes = _Changes(metadata, arm_codes)
            for change in changes(audit_rows(scope)):
                if changes.read >= next_report:
                    next_report = changes.read + PROGRESS_ROWS
                    progress(changes.read, max(expected, changes.read + 1))
                if change is None:
                    continue
                subjects.enter(change.row.subject_id or "", change.row.site or "")
                xf.write(_change_element(metadata, change))
            subjects.close()
            for signature in signatures:
                xf.write(_signature_element(signature, meanings))
    progress(changes.read, changes.read)


# -- the clinical data -------------------------------------------------------------------


@dataclass(frozen=True)
class _Record:
    """One form record of one participant, with its values and its last audit event."""

    subject_id: str
    site_code: str
    form: FormDef
    order: int
    record_id: int
    values: dict[str, Any]
    last_event: dict[str, Any] | None


def _form_queryset(form: FormDef, scope: ExportScope) -> models.QuerySet[Any]:
    """A form's records in the scope: the scope's sites and subject, the form's own date."""
    model = form.model_class
    queryset = model._default_manager.filter(**dict(form.filters)).filter(
        **{f"{form.site_path}__in": scope.site_ids}
    )
    if scope.subject_id is not None:
        queryset = queryset.filter(**{form.subject_path: scope.subject_id})
    date_name = form.date_field or form.recorded_field
    if date_name and (scope.since is not None or scope.until is not None):
        is_moment = isinstance(model._meta.get_field(date_name), models.DateTimeField)
        lookup = f"{date_name}__date" if is_moment else date_name
        if scope.since is not None:
            queryset = queryset.filter(**{f"{lookup}__gte": scope.since})
        if scope.until is not None:
            queryset = queryset.filter(**{f"{lookup}__lte": scope.until})
    return queryset


def _form_records(form: FormDef, scope: ExportScope, order: int) -> Iterator[_Record]:
    """A form's records in the scope, ordered by subject, read in chunks."""
    model = form.model_class
    annotations: dict[str, Any] = {
        "_subject": F(form.subject_path),
        "_site": F(f"{form.site_path}__code"),
    }
    event_model = event_model_of(model)
    table = ""
    if event_model is not None:
        table = event_model._meta.db_table
        latest = event_model._default_manager.filter(pgh_obj_id=OuterRef("pk")).order_by("-pgh_id")
        annotations["_event_id"] = Subquery(latest.values("pgh_id")[:1])
        annotations["_event_at"] = Subquery(latest.values("pgh_created_at")[:1])
        annotations["_event_context"] = Subquery(latest.values("pgh_context")[:1])
        annotations["_event_actor"] = Subquery(
            latest.annotate(actor=actor_sql("pgh_context")).values("actor")[:1]
        )
    sources = list(dict.fromkeys(item.source or item.name for item in form.fields))
    rows = (
        _form_queryset(form, scope)
        .annotate(**annotations)
        .order_by("_subject", "pk")
        .values("pk", *annotations, *sources)
    )
    for row in rows.iterator(chunk_size=500):
        last_event = None
        if row.get("_event_id") is not None:
            last_event = {
                "event": f"{table}:{row['_event_id']}",
                "at": row["_event_at"],
                "context": row["_event_context"] or {},
                "actor": row["_event_actor"],
            }
        yield _Record(
            subject_id=row["_subject"],
            site_code=row["_site"],
            form=form,
            order=order,
            record_id=row["pk"],
            values={item.name: row[item.source or item.name] for item in form.fields},
            last_event=last_event,
        )


def _record_element(metadata: Metadata, record: _Record) -> etree._Element:
    event, group = _form_path(metadata, record.form, str(record.record_id), "Upsert")
    if record.last_event is not None:
        context = record.last_event["context"]
        audit = etree.Element(q("AuditRecord"))
        group.insert(0, audit)
        _sub(audit, "UserRef", UserOID=_user_oid(context.get("user"), record.last_event["actor"]))
        _sub(audit, "LocationRef", LocationOID=_location(record.site_code))
        _sub(audit, "DateTimeStamp", _timestamp(record.last_event["at"]))
        if context.get("reason"):
            _sub(audit, "ReasonForChange", str(context["reason"]))
        _sub(audit, "SourceID", record.last_event["event"])
    for item in record.form.fields:
        text = value_to_text(item, record.values[item.name])
        if text != "":
            _sub(group, "ItemData", ItemOID=item.oid, TransactionType="Upsert", Value=text)
    return event


def _record_users(metadata: Metadata, scope: ExportScope) -> tuple[set[int], set[str]]:
    """Who last changed each record of the file: people's ids, and system actors."""
    users: set[int] = set()
    actors: set[str] = set()
    for form in metadata.forms:
        event_model = event_model_of(form.model_class)
        if event_model is None:
            continue
        latest = event_model._default_manager.filter(pgh_obj_id=OuterRef("pk")).order_by("-pgh_id")
        found = (
            _form_queryset(form, scope)
            .annotate(
                _user=Subquery(latest.values("pgh_context__user")[:1]),
                _actor=Subquery(
                    latest.annotate(actor=actor_sql("pgh_context")).values("actor")[:1]
                ),
            )
            .values_list("_user", "_actor")
            .distinct()
        )
        for user, actor in found:
            if user is not None and str(user).isdigit():
                users.add(int(user))
            elif actor:
                actors.add(actor)
    return users, actors


def write_clinical_odm(
    scope: ExportScope, out: BinaryIO, *, progress: Progress, chain_head: str
) -> None:
    """The current clinical data as a transactional ODM 1.3.2 file of upserts (see the module).

    The forms' records are read in parallel, each ordered by subject, and merged so that
    each participant's data is written once, in the order of the study events.
    """
    study = _study(scope)
    metadata = Metadata.of(scope, study)
    latest_signature = {
        signature.subject_id: signature for signature in _signatures(scope, valid_only=True)
    }
    meanings = _meanings(latest_signature.values())
    expected = sum(_form_queryset(form, scope).count() for form in metadata.forms)
    user_ids, actors = _record_users(metadata, scope)
    user_ids.update(signature.user_id for signature in latest_signature.values())
    progress(0, expected)
    written = 0
    with (
        _document(out, metadata=metadata, chain_head=chain_head, description="Clinical data") as xf,
        export_transaction(),
    ):
        xf.write(_study_element(metadata, study))
        xf.write(_admin_element(metadata, scope, user_ids, {}, meanings, actors))
        with xf.element(
            q("ClinicalData"), StudyOID=metadata.study_oid, MetaDataVersionOID=metadata.mdv_oid
        ):
            subjects = _SubjectWriter(xf)
            streams = [_form_records(form, scope, metadata.order(form)) for form in metadata.forms]
            for record in heapq.merge(*streams, key=lambda r: (r.subject_id, r.order, r.record_id)):
                signature = latest_signature.get(record.subject_id)
                subjects.enter(
                    record.subject_id,
                    record.site_code,
                    _signature(signature, meanings) if signature else None,
                )
                xf.write(_record_element(metadata, record))
                written += 1
                if written % PROGRESS_ROWS == 0:
                    progress(written, max(expected, written + 1))
            subjects.close()
    progress(written, written)
