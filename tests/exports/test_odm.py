"""CDISC ODM 1.3.2 exports, validated against the official schema shipped with the tests."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from lxml import etree

from ecrf.accounts.models import User
from ecrf.exports.formats.base import ExportScope
from ecrf.exports.formats.odm import ODM_NS, write_audit_odm, write_clinical_odm
from ecrf.participants.models import Participant
from ecrf.studies.models import Site, Study

from .test_audit_csv import SLOT_AND_LIST, Trail, build_trail, scope_of

pytestmark = pytest.mark.django_db

SCHEMA = Path(__file__).resolve().parent.parent / "schemas" / "odm-1.3.2" / "ODM1-3-2.xsd"
CHAIN_HEAD = "cd" * 32
NS = {"odm": ODM_NS}


@pytest.fixture
def trail(
    study: Study,
    site_a: Site,
    site_b: Site,
    transferred: Participant,
    coordinator_a: User,
    coordinator_b: User,
    make_user: Callable[..., User],
    ready_participant: Callable[..., Participant],
    api_for: Callable[[User], Any],
) -> Trail:
    """The trail of the CSV tests (see :func:`tests.exports.test_audit_csv.build_trail`)."""
    return build_trail(
        study,
        site_a,
        site_b,
        transferred,
        coordinator_a,
        coordinator_b,
        make_user,
        ready_participant,
        api_for,
    )


@pytest.fixture(scope="module")
def odm_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMA)))


def export(
    writer: Callable[..., None], scope: ExportScope, schema: etree.XMLSchema
) -> tuple[etree._Element, list[Any]]:
    """Write the file, read it back, and check it against the schema."""
    out = io.BytesIO()
    calls: list[Any] = []
    writer(
        scope, out, progress=lambda done, total: calls.append((done, total)), chain_head=CHAIN_HEAD
    )
    document = etree.parse(io.BytesIO(out.getvalue()))
    schema.assertValid(document)
    return document.getroot(), calls


def xpath(node: etree._Element, path: str, **variables: Any) -> list[Any]:
    return node.xpath(path, namespaces=NS, **variables)


def attribute_values(root: etree._Element, tag: str, attribute: str) -> set[str]:
    return {str(value) for value in xpath(root, f"//odm:{tag}/@{attribute}")}


def assert_every_reference_is_defined(root: etree._Element) -> None:
    references = {
        ("User", "OID"): [("UserRef", "UserOID")],
        ("Location", "OID"): [("LocationRef", "LocationOID"), ("SiteRef", "LocationOID")],
        ("SignatureDef", "OID"): [("SignatureRef", "SignatureOID")],
        ("ItemDef", "OID"): [("ItemData", "ItemOID"), ("ItemRef", "ItemOID")],
        ("ItemGroupDef", "OID"): [
            ("ItemGroupData", "ItemGroupOID"),
            ("ItemGroupRef", "ItemGroupOID"),
        ],
        ("FormDef", "OID"): [("FormData", "FormOID"), ("FormRef", "FormOID")],
        ("StudyEventDef", "OID"): [
            ("StudyEventData", "StudyEventOID"),
            ("StudyEventRef", "StudyEventOID"),
        ],
        ("CodeList", "OID"): [("CodeListRef", "CodeListOID")],
        ("MeasurementUnit", "OID"): [("MeasurementUnitRef", "MeasurementUnitOID")],
    }
    for (tag, attribute), uses in references.items():
        defined = attribute_values(root, tag, attribute)
        for use_tag, use_attribute in uses:
            used = attribute_values(root, use_tag, use_attribute)
            assert used <= defined, (use_tag, used - defined)


@pytest.mark.requirement("CFR11-10B-ELECTRONIC", "CFR11-10E-REVIEW")
def test_the_audit_trail_is_valid_odm_with_the_chain_head(
    trail: Trail, odm_schema: etree.XMLSchema
) -> None:
    root, calls = export(write_audit_odm, scope_of(trail), odm_schema)
    assert root.get("FileType") == "Transactional"
    assert root.get("ODMVersion") == "1.3.2"
    comments = [node.text for node in root.iter(etree.Comment)]
    assert any(CHAIN_HEAD in (text or "") for text in comments)
    assert_every_reference_is_defined(root)
    subjects = set(xpath(root, "//odm:ClinicalData/odm:SubjectData/@SubjectKey"))
    assert subjects == {trail.a.subject_id, trail.b.subject_id}
    assert calls[0][0] == 0
    assert calls[-1][0] == calls[-1][1] > 0


@pytest.mark.requirement("CFR11-10E-CONTENT")
def test_each_change_has_an_audit_record_of_who_where_when_and_why(
    trail: Trail, odm_schema: etree.XMLSchema
) -> None:
    root, _calls = export(write_audit_odm, scope_of(trail), odm_schema)
    hcg = xpath(root, "//odm:ItemData[@ItemOID='I.BIOCHEMICAL_PREGNANCY.SERUM_HCG_MIU_ML']")
    assert [(i.get("TransactionType"), i.get("Value")) for i in hcg] == [
        ("Insert", "250.50"),
        ("Update", "260.00"),
    ]
    record = hcg[1].find("odm:AuditRecord", NS)
    assert record.find("odm:UserRef", NS).get("UserOID") == f"USR.{trail.coordinator_a.pk}"
    assert record.find("odm:LocationRef", NS).get("LocationOID") == "LOC.S01"
    stamp = dt.datetime.fromisoformat(record.findtext("odm:DateTimeStamp", namespaces=NS))
    assert stamp.utcoffset() == dt.timedelta(hours=9)
    assert record.findtext("odm:ReasonForChange", namespaces=NS) == "Laboratory report corrected"
    assert record.findtext("odm:SourceID", namespaces=NS).startswith(
        "endpoints_biochemicalpregnancyevent:"
    )
    subject = hcg[1].xpath("ancestor::odm:SubjectData", namespaces=NS)[0]
    assert subject.get("SubjectKey") == trail.a.subject_id
    assert subject.find("odm:SiteRef", NS).get("LocationOID") == "LOC.S01"
    user = xpath(root, "//odm:AdminData/odm:User[@OID=$oid]", oid=f"USR.{trail.coordinator_a.pk}")
    assert user[0].findtext("odm:LoginName", namespaces=NS) == "coordinator_a"


def test_a_deleted_record_is_removed_with_its_reason(
    trail: Trail, odm_schema: etree.XMLSchema
) -> None:
    root, _calls = export(write_audit_odm, scope_of(trail), odm_schema)
    forms = xpath(
        root,
        "//odm:FormData[@FormOID='F.DOSE'][@FormRepeatKey=$key]",
        key=str(trail.deleted_dose.pk),
    )
    groups = [form.find("odm:ItemGroupData", NS) for form in forms]
    assert [g.get("TransactionType") for g in groups] == ["Insert", "Remove"]
    removed = groups[1].findall("odm:ItemData", NS)
    assert removed and all(i.get("TransactionType") == "Remove" for i in removed)
    assert all(i.get("Value") is None for i in removed)
    reasons = {i.findtext("odm:AuditRecord/odm:ReasonForChange", namespaces=NS) for i in removed}
    assert reasons == {"-1 day: entered for the wrong day"}
    users = {i.find("odm:AuditRecord/odm:UserRef", NS).get("UserOID") for i in removed}
    assert users == {f"USR.{trail.data_manager.pk}"}


@pytest.mark.requirement("CFR11-50-MANIFESTATION")
def test_the_investigators_signature_is_a_signature_element(
    trail: Trail, odm_schema: etree.XMLSchema
) -> None:
    root, _calls = export(write_audit_odm, scope_of(trail), odm_schema)
    signatures = xpath(
        root, "//odm:SubjectData[@SubjectKey=$key]/odm:Signature", key=trail.a.subject_id
    )
    assert len(signatures) == 1
    signature = signatures[0]
    assert signature.find("odm:UserRef", NS).get("UserOID") == f"USR.{trail.investigator_a.pk}"
    assert signature.find("odm:LocationRef", NS).get("LocationOID") == "LOC.S01"
    dt.datetime.fromisoformat(signature.findtext("odm:DateTimeStamp", namespaces=NS))
    definition = xpath(
        root,
        "//odm:SignatureDef[@OID=$oid]",
        oid=signature.find("odm:SignatureRef", NS).get("SignatureOID"),
    )[0]
    assert definition.get("Methodology") == "Electronic"
    assert (
        definition.findtext("odm:Meaning", namespaces=NS) == "I approve the data of this casebook."
    )
    investigator = xpath(root, "//odm:User[@OID=$oid]", oid=f"USR.{trail.investigator_a.pk}")[0]
    assert investigator.get("UserType") == "Investigator"
    assert investigator.findtext("odm:DisplayName", namespaces=NS) == str(trail.investigator_a)


def test_a_site_export_holds_only_that_sites_subjects_and_people(
    trail: Trail, odm_schema: etree.XMLSchema
) -> None:
    for writer in (write_audit_odm, write_clinical_odm):
        root, _calls = export(writer, scope_of(trail, trail.site_a), odm_schema)
        assert set(xpath(root, "//odm:SubjectData/@SubjectKey")) == {trail.a.subject_id}
        assert "LOC.S02" not in attribute_values(root, "Location", "OID")
        logins = {str(name) for name in xpath(root, "//odm:User/odm:LoginName/text()")}
        assert "coordinator_b" not in logins


def test_the_arm_is_left_out_where_it_must_not_be_seen(
    trail: Trail, odm_schema: etree.XMLSchema
) -> None:
    arm = trail.a.allocation.arm.code
    for writer in (write_audit_odm, write_clinical_odm):
        root, _calls = export(writer, scope_of(trail), odm_schema)
        values = xpath(root, "//odm:ItemData[@ItemOID='I.RANDOMIZATION.ARM']/@Value")
        assert [str(v) for v in values] == [arm]
        root, _calls = export(writer, scope_of(trail, arm_visible=False), odm_schema)
        assert not xpath(root, "//odm:ItemDef[@OID='I.RANDOMIZATION.ARM']")
        assert not xpath(root, "//odm:ItemData[@ItemOID='I.RANDOMIZATION.ARM']")
        assert xpath(root, "//odm:FormData[@FormOID='F.RANDOMIZATION']")
        root, _calls = export(writer, scope_of(trail, concealed_models=SLOT_AND_LIST), odm_schema)
        assert not xpath(root, "//odm:FormDef[@OID='F.RANDOMIZATION']")
        assert not xpath(root, "//odm:FormData[@FormOID='F.RANDOMIZATION']")


@pytest.mark.requirement("CFR11-10B-ELECTRONIC")
def test_the_clinical_data_are_the_current_values_with_their_last_change(
    trail: Trail, odm_schema: etree.XMLSchema
) -> None:
    root, calls = export(write_clinical_odm, scope_of(trail), odm_schema)
    assert root.get("FileType") == "Transactional"
    assert_every_reference_is_defined(root)
    hcg = xpath(root, "//odm:ItemData[@ItemOID='I.BIOCHEMICAL_PREGNANCY.SERUM_HCG_MIU_ML']")
    assert [(i.get("TransactionType"), i.get("Value")) for i in hcg] == [("Upsert", "260.00")]
    group = hcg[0].getparent()
    assert group.get("TransactionType") == "Upsert"
    assert group.findtext("odm:AuditRecord/odm:ReasonForChange", namespaces=NS) == (
        "Laboratory report corrected"
    )
    doses = xpath(root, "//odm:FormData[@FormOID='F.DOSE']/@FormRepeatKey")
    assert str(trail.deleted_dose.pk) not in {str(key) for key in doses}
    assert len(doses) == 1
    comment = xpath(root, "//odm:ItemData[@ItemOID='I.DOSE.COMMENT']/@Value")
    assert [str(c) for c in comment] == ['=HYPERLINK("http://evil.example","click")']
    subject_a = xpath(root, "//odm:SubjectData[@SubjectKey=$key]", key=trail.a.subject_id)
    assert len(subject_a) == 1, "each participant's data is written once"
    signature = subject_a[0].find("odm:Signature", NS)
    assert signature.find("odm:UserRef", NS).get("UserOID") == f"USR.{trail.investigator_a.pk}"
    events = [e.get("StudyEventOID") for e in subject_a[0].findall("odm:StudyEventData", NS)]
    assert events[0] == "SE.SCREENING"
    assert events.index("SE.TREATMENT") < events.index("SE.BIOCHEMICAL_PREGNANCY")
    eligible_b = xpath(
        root,
        "//odm:SubjectData[@SubjectKey=$key]//odm:ItemData[@ItemOID='I.ELIGIBILITY.ELIGIBLE']/@Value",
        key=trail.b.subject_id,
    )
    assert [str(v) for v in eligible_b] == ["1"]
    assert calls[-1][0] == calls[-1][1] == len(xpath(root, "//odm:ItemGroupData"))


def test_clinical_dates_are_the_forms_own(trail: Trail, odm_schema: etree.XMLSchema) -> None:
    root, _calls = export(
        write_clinical_odm, scope_of(trail, since=dt.date(2026, 3, 10)), odm_schema
    )
    forms = {str(oid) for oid in xpath(root, "//odm:FormData/@FormOID")}
    assert "F.BIOCHEMICAL_PREGNANCY" in forms
    assert "F.DOSE" not in forms
    assert "F.CONSENT" not in forms


@pytest.mark.requirement("CFR11-10E-CONTENT")
@pytest.mark.parametrize("writer", [write_audit_odm, write_clinical_odm], ids=["audit", "clinical"])
def test_a_change_made_outside_the_app_names_its_program(
    writer: Callable[..., None], trail: Trail, odm_schema: etree.XMLSchema
) -> None:
    with connection.cursor() as cursor:
        # As in a session of its own: none of the app's audit context, psql's name.
        cursor.execute(
            "SELECT set_config('pghistory.context_id', '', true), "
            "set_config('pghistory.context_metadata', '', true)"
        )
        cursor.execute("SET LOCAL application_name = 'psql'")
        cursor.execute(
            "UPDATE endpoints_biochemicalpregnancy SET serum_hcg_miu_ml = 261 "
            "WHERE participant_id = %s",
            [trail.a.pk],
        )
        cursor.execute("RESET application_name")
    root, _calls = export(writer, scope_of(trail), odm_schema)
    assert_every_reference_is_defined(root)
    hcg = xpath(
        root,
        "//odm:SubjectData[@SubjectKey=$key]//odm:ItemGroupData[odm:ItemData"
        "[@ItemOID='I.BIOCHEMICAL_PREGNANCY.SERUM_HCG_MIU_ML'][@Value='261.00']]",
        key=trail.a.subject_id,
    )
    assert hcg
    users = {str(oid) for oid in xpath(hcg[-1], ".//odm:AuditRecord/odm:UserRef/@UserOID")}
    assert users == {"USR.SYSTEM.psql"}
    user = xpath(root, "//odm:AdminData/odm:User[@OID='USR.SYSTEM.psql']")
    assert [u.findtext("odm:LoginName", namespaces=NS) for u in user] == ["system:psql"]


@pytest.mark.requirement("CFR11-10B-READABLE")
def test_control_characters_already_stored_do_not_stop_either_odm_file(
    trail: Trail, odm_schema: etree.XMLSchema, caplog: pytest.LogCaptureFixture
) -> None:
    from ecrf.safety.models import AdverseEvent

    # Stored before text was checked at the boundary: XML 1.0 cannot hold \x01 or \x0b.
    AdverseEvent.objects.filter(participant=trail.a).update(term="Head\x01ache\x0b")
    clinical, _calls = export(write_clinical_odm, scope_of(trail), odm_schema)
    audit, _calls = export(write_audit_odm, scope_of(trail), odm_schema)
    for root in (clinical, audit):
        terms = {
            str(v) for v in xpath(root, "//odm:ItemData[@ItemOID='I.ADVERSE_EVENT.TERM']/@Value")
        }
        assert "Head\ufffdache\ufffd" in terms
    assert "XML cannot hold written as U+FFFD" in caplog.text
