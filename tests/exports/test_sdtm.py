"""The SDTM package on a seeded trial: valid files, conformant datasets, one truth in both
formats, and the export's scope and blinding."""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import os
import re
import zipfile
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import odmlib
import pandas as pd
import pyreadstat
import pytest
from lxml import etree

from ecrf.common import catalogue
from ecrf.exports.sdtm import spec
from ecrf.exports.sdtm.package import package_for, write_sdtm_dataset_json, write_sdtm_xpt
from ecrf.labs.services import lab_result_record
from ecrf.participants.eligibility import CRITERIA
from ecrf.participants.models import Participant
from ecrf.participants.services import eligibility_record
from ecrf.safety.models import AdverseEvent
from ecrf.safety.services import adverse_event_record
from ecrf.schedule.models import DoseEntry
from tests.factories import ELIGIBLE_ANSWERS, ParticipantFactory

from ..clock import at
from .test_clinical_exports import CHAIN_HEAD, Trial, scope_for, trial  # noqa: F401

pytestmark = pytest.mark.django_db

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"
DATASET_SCHEMA = json.loads((SCHEMAS / "dataset-json-1.1" / "dataset.schema.json").read_text())
DEFINE_XSD = Path(os.path.dirname(odmlib.__file__)) / "schemas/define/2.1/define2-1-0.xsd"
ODM = "{http://www.cdisc.org/ns/odm/v1.3}"
DEF = "{http://www.cdisc.org/ns/def/v2.1}"
ISO_8601 = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2})?)?$")


@pytest.fixture
def seeded(trial: Trial, coordinator_a: Any) -> Trial:  # noqa: F811
    """The clinical exports' trial, with a screen failure, a serious adverse event,
    vital signs and a laboratory result out of its normal range."""
    with at("2026-02-10"):
        failed = ParticipantFactory(site=trial.site_a, performed_by=coordinator_a)
        eligibility_record(
            participant=failed,
            answers={**ELIGIBLE_ANSWERS, "th1_th2_ratio": Decimal("4.10"), "pregnant": True},
            performed_by=coordinator_a,
        )
    with at("2026-03-15"):
        adverse_event_record(
            participant=trial.a,
            term="Hyperglycaemia",
            onset_date=dt.date(2026, 3, 10),
            ctcae_grade=3,
            serious=True,
            seriousness_criteria=["hospitalisation", "other_medically_important"],
            related=False,
            action_taken="interrupted",
            outcome="recovering",
            performed_by=coordinator_a,
        )
        for analyte, value in (("systolic_bp", "128"), ("diastolic_bp", "84"), ("glucose", "181")):
            lab_result_record(
                participant=trial.a,
                visit="et_plus_14",
                analyte=analyte,
                measured_on=dt.date(2026, 3, 15),
                value=Decimal(value),
                performed_by=coordinator_a,
            )
    with at("2026-02-19"):
        lab_result_record(
            participant=trial.a,
            visit="screening",
            analyte="glucose",
            measured_on=dt.date(2026, 2, 12),
            value=Decimal("92"),
            performed_by=coordinator_a,
        )
    trial.a.refresh_from_db()
    return trial


def export_zip(writer: Any, scope: Any) -> zipfile.ZipFile:
    out = io.BytesIO()
    writer(scope, out, progress=lambda done, total: None, chain_head=CHAIN_HEAD)
    out.seek(0)
    return zipfile.ZipFile(out)


def datasets_of(archive: zipfile.ZipFile) -> dict[str, dict[str, Any]]:
    return {
        name.removesuffix(".json").upper(): json.loads(archive.read(name))
        for name in archive.namelist()
        if name.endswith(".json")
    }


def records(document: dict[str, Any]) -> list[dict[str, Any]]:
    names = [column["name"] for column in document["columns"]]
    return [dict(zip(names, row, strict=True)) for row in document["rows"]]


@pytest.fixture
def package(seeded: Trial) -> dict[str, Any]:
    archive = export_zip(write_sdtm_dataset_json, scope_for(seeded))
    return {
        "archive": archive,
        "datasets": datasets_of(archive),
        "define": etree.fromstring(archive.read("define.xml")),
        "trial": seeded,
    }


@pytest.mark.requirement("API-EXPORT-SDTM")
def test_every_dataset_is_valid_dataset_json_and_names_define_xml(package):
    define = package["define"]
    item_defs = {item.get("OID") for item in define.iter(f"{ODM}ItemDef")}
    group_defs = {group.get("OID") for group in define.iter(f"{ODM}ItemGroupDef")}
    assert set(package["datasets"]) == {d.name for d in spec.DATASETS}
    for name, document in package["datasets"].items():
        jsonschema.validate(document, DATASET_SCHEMA)
        assert document["records"] == len(document["rows"])
        assert document["itemGroupOID"] in group_defs
        assert {c["itemOID"] for c in document["columns"]} <= item_defs, name
        for key in ("datasetJSONCreationDateTime", "studyOID", "metaDataVersionOID"):
            assert document[key]
        assert document["metaDataRef"] == "define.xml"
        assert document["sourceSystem"]["name"]
        assert document["studyOID"] == define.find(f"{ODM}Study").get("OID")


@pytest.mark.requirement("API-EXPORT-SDTM")
def test_define_xml_is_valid_define_2_1_with_labels_lengths_origins_and_ct(package):
    schema = etree.XMLSchema(etree.parse(str(DEFINE_XSD)))
    assert schema.validate(etree.ElementTree(package["define"])), schema.error_log
    define = package["define"]
    standards = {s.get("Type"): s for s in define.iter(f"{DEF}Standard")}
    assert standards["CT"].get("Version") == spec.CT_VERSION
    assert standards["IG"].get("Version") == spec.SDTMIG_VERSION
    origins = Counter(o.get("Type") for o in define.iter(f"{DEF}Origin"))
    assert {"Collected", "Derived", "Assigned", "Protocol"} <= set(origins)
    for item in define.iter(f"{ODM}ItemDef"):
        label = item.find(f"{ODM}Description/{ODM}TranslatedText").text
        assert len(label) <= 40, (item.get("OID"), label)
        if item.get("DataType") in {"text", "integer", "float"}:
            assert 1 <= int(item.get("Length")) <= 200
    collected = define.find(f".//{ODM}ItemDef[@OID='IT.AE.AETERM']/{DEF}Origin")
    assert "adverse_event.term" in "".join(collected.itertext())
    derived = define.find(f".//{ODM}ItemRef[@ItemOID='IT.DM.AGE']")
    method = define.find(f".//{ODM}MethodDef[@OID='{derived.get('MethodOID')}']")
    assert "date of birth" in "".join(method.itertext())
    value_level = {v.get("OID") for v in define.iter(f"{DEF}ValueListDef")}
    assert value_level == {"VL.LB.LBORRES", "VL.VS.VSORRES", "VL.RP.RPORRES"}


def test_required_and_expected_variables_are_present_and_keys_unique(package):
    for dataset in spec.DATASETS:
        document = package["datasets"][dataset.name]
        names = [column["name"] for column in document["columns"]]
        assert {v.name for v in dataset.variables if v.core in {"Req", "Exp"}} <= set(names)
        for column in document["columns"]:
            assert len(column["name"]) <= 8 and len(column["label"]) <= 40
        keys = [v.name for v in dataset.keys]
        if dataset.name == "SUPPPR":
            keys = ["USUBJID", "IDVARVAL", "QNAM"]
        rows = records(document)
        seen = Counter(tuple(row[k] for k in keys) for row in rows)
        assert all(count == 1 for count in seen.values()), (dataset.name, seen.most_common(1))
        for variable in dataset.variables:
            if (
                variable.core == "Req"
                and not variable.name.startswith("ARM")
                and not (variable.name.startswith("ACTARM"))
            ):
                assert all(row[variable.name] not in (None, "") for row in rows), (
                    dataset.name,
                    variable.name,
                )


def test_every_subject_is_in_dm_with_one_key_and_dates_are_iso_8601(package):
    dm = records(package["datasets"]["DM"])
    subjects = {row["USUBJID"] for row in dm}
    assert all(row["USUBJID"] == f"TAC-RI-{row['SUBJID']}" for row in dm)
    for dataset in spec.DATASETS:
        rows = records(package["datasets"][dataset.name])
        if any(v.name == "USUBJID" for v in dataset.variables):
            assert {row["USUBJID"] for row in rows} <= subjects, dataset.name
        for variable in dataset.variables:
            if variable.data_type in {"date", "datetime"}:
                for row in rows:
                    value = row[variable.name]
                    assert value is None or ISO_8601.match(value), (variable.name, value)


def test_no_value_falls_outside_its_codelist(package, seeded):
    codelists = package_for(scope_for(seeded), chain_head=CHAIN_HEAD).codelists
    checked = 0
    for dataset in spec.DATASETS:
        for row in records(package["datasets"][dataset.name]):
            for variable in dataset.variables:
                value = row[variable.name]
                if variable.codelist and value not in (None, ""):
                    assert value in codelists[variable.codelist].submission_values, (
                        dataset.name,
                        variable.name,
                        value,
                    )
                    checked += 1
    assert checked > 100


def _day(date: str | None, reference: str | None) -> int | None:
    if not date or not reference:
        return None
    days = (dt.date.fromisoformat(date[:10]) - dt.date.fromisoformat(reference[:10])).days
    return days + 1 if days >= 0 else days


def test_study_days_count_from_rfstdtc(package):
    reference = {row["USUBJID"]: row["RFSTDTC"] for row in records(package["datasets"]["DM"])}
    compared = 0
    for dataset in spec.DATASETS:
        names = {v.name for v in dataset.variables}
        pairs = [
            (dy, dy.replace("DY", "DTC"))
            for dy in names
            if dy.endswith("DY") and dy.replace("DY", "DTC") in names
        ]
        for row in records(package["datasets"][dataset.name]):
            for dy, dtc in pairs:
                assert row[dy] == _day(row[dtc], reference[row["USUBJID"]]), (dataset.name, row)
                compared += row[dy] is not None
    assert compared > 10
    ex = records(package["datasets"]["EX"])
    assert ex[0]["EXSTDY"] == 1 and ex[0]["EXSTDTC"] == reference[ex[0]["USUBJID"]]


def test_counts_tie_out_with_the_forms(package):
    datasets = package["datasets"]
    assert datasets["DM"]["records"] == Participant.objects.count() == 3
    assert datasets["EC"]["records"] == DoseEntry.objects.count()
    assert datasets["EX"]["records"] == DoseEntry.objects.filter(taken=True).count()
    assert datasets["AE"]["records"] == AdverseEvent.objects.count() == 2


def test_the_mapping_says_what_was_entered(package):
    datasets = {name: records(doc) for name, doc in package["datasets"].items()}
    dm = {row["SUBJID"]: row for row in datasets["DM"]}
    failed = next(row for row in datasets["DM"] if row["ARMNRS"] == "SCREEN FAILURE")
    assert failed["ARMCD"] is None and failed["RFSTDTC"] is None
    assert dm["S01-001"]["ARMCD"] == dm["S01-001"]["ACTARMCD"]
    assert dm["S01-001"]["RFICDTC"] and dm["S01-001"]["AGE"] >= 18
    assert dm["S02-001"]["ARMNRS"] == "ASSIGNED, NOT TREATED"
    ie = [row for row in datasets["IE"] if row["USUBJID"] == failed["USUBJID"]]
    assert {(row["IECAT"], row["IEORRES"]) for row in ie} == {
        ("INCLUSION", "N"),
        ("EXCLUSION", "Y"),
    }
    serious = next(row for row in datasets["AE"] if row["AESER"] == "Y")
    assert (serious["AESHOSP"], serious["AESMIE"], serious["AESDTH"]) == ("Y", "Y", "N")
    assert (serious["AEACN"], serious["AEOUT"], serious["AETOXGR"]) == (
        "DRUG INTERRUPTED",
        "RECOVERING/RESOLVING",
        "3",
    )
    mild = next(row for row in datasets["AE"] if row["AESER"] == "N")
    assert mild["AESHOSP"] is None and mild["AEREL"] == "Y"
    glucose = [row for row in datasets["LB"] if row["LBTESTCD"] == "GLUC"]
    assert {(row["LBNRIND"], row["LBLOBXFL"]) for row in glucose} == {
        ("HIGH", None),
        ("NORMAL", "Y"),
    }
    hcg = [row for row in datasets["LB"] if row["LBTESTCD"] == "HCG"]
    assert {row["LBSTRESN"] for row in hcg} == {"250.5", "777"}
    assert {row["VSTESTCD"] for row in datasets["VS"]} == {"SYSBP", "DIABP"}
    rp = {
        row["RPTESTCD"]: row["RPORRES"]
        for row in datasets["RP"]
        if row["USUBJID"].endswith("S01-001")
    }
    assert rp == {
        "BIOPREG": "POSITIVE",
        "GESTSAC": "Y",
        "GSACNUM": "1",
        "FETHRTB": "Y",
        "ECTPREG": "N",
        "CLINPREG": "POSITIVE",
    }
    withdrawal = next(
        row
        for row in datasets["DS"]
        if row["USUBJID"].endswith("S02-001") and (row["DSCAT"] == "DISPOSITION EVENT")
    )
    assert (withdrawal["DSTERM"], withdrawal["DSDECOD"]) == (
        "Moved abroad",
        "WITHDRAWAL BY SUBJECT",
    )
    assert {row["QNAM"]: row["QVAL"] for row in datasets["SUPPPR"]} == {
        "EMBNUM": "1",
        "EMBSTAGE": "BLASTOCYST",
        "EMBGRADE": "4AA",
    }
    assert {row["TSPARMCD"] for row in datasets["TS"]} >= {"TITLE", "REGID", "SDTIGVER"}
    assert len(datasets["TI"]) == len(CRITERIA)


def test_readme_states_the_standard_and_every_dataset(package):
    readme = package["archive"].read("README.md").decode()
    assert f"SDTMIG {spec.SDTMIG_VERSION}" in readme and spec.CT_VERSION in readme
    assert CHAIN_HEAD in readme
    assert "Reproductive System Findings" in readme
    for dataset in spec.DATASETS:
        assert f"### {dataset.name}:" in readme


def test_xpt_reads_back_and_holds_the_same_values_as_dataset_json(package, tmp_path):
    xpt = export_zip(write_sdtm_xpt, scope_for(package["trial"]))
    assert "define.xml" in xpt.namelist()
    for dataset in spec.DATASETS:
        path = tmp_path / f"{dataset.file_stem}.xpt"
        path.write_bytes(xpt.read(path.name))
        frame, meta = pyreadstat.read_xport(str(path))
        assert meta.table_name == dataset.name
        assert all(len(name) <= 8 for name in frame.columns)
        assert all(len(label) <= 40 for label in meta.column_labels)
        assert all(width <= 200 for width in meta.variable_storage_width.values())
        document = package["datasets"][dataset.name]
        from_json = pd.DataFrame(document["rows"], columns=[c["name"] for c in document["columns"]])
        assert list(frame.columns) == list(from_json.columns)
        assert len(frame) == len(from_json)
        for variable in dataset.variables:
            left = frame[variable.name].tolist()
            right = [
                None if isinstance(v, float) and math.isnan(v) else v
                for v in from_json[variable.name].tolist()
            ]
            if variable.numeric:
                assert [None if math.isnan(v) else v for v in left] == [
                    None if v is None else float(v) for v in right
                ], variable.name
            else:
                assert left == ["" if v is None else v for v in right], variable.name


def test_a_monitor_of_one_site_gets_only_that_site(seeded):
    archive = export_zip(write_sdtm_dataset_json, scope_for(seeded, seeded.site_a))
    for name, document in datasets_of(archive).items():
        text = json.dumps(document["rows"])
        assert "S02-" not in text, name
    dm = records(datasets_of(archive)["DM"])
    assert {row["SITEID"] for row in dm} == {"S01"}


def test_a_recipient_who_may_not_see_the_arm_gets_none(seeded):
    archive = export_zip(write_sdtm_dataset_json, scope_for(seeded, arm_visible=False))
    datasets = datasets_of(archive)
    dm = records(datasets["DM"])
    randomized = [row for row in dm if row["SUBJID"] in {"S01-001", "S02-001"}]
    assert all(row["ARMCD"] is None and row["ACTARM"] is None for row in randomized)
    assert {row["ARMNRS"] for row in randomized} == {spec.ARM_CONCEALED}
    assert not {"TA", "TE"} & set(datasets)
    for member in archive.namelist():
        text = archive.read(member).decode()
        for word in ("Low dose", "High dose", "mg/day", "低用量", "高用量"):
            assert word not in text, (member, word)
    arm_columns = {"ARMCD", "ARM", "ACTARMCD", "ACTARM", "ETCD", "ELEMENT"}
    for name, document in datasets.items():
        for row in records(document):
            for column in arm_columns & set(row):
                assert row[column] not in {"LOW", "HIGH"}, (name, column)
    assert {row["ETCD"] for row in records(datasets["SE"])} >= {spec.UNPLANNED_ELEMENT}
    assert {row["EXDOSE"] for row in records(datasets["EX"])} == {None}
    assert {row["ECDOSE"] for row in records(datasets["EC"])} == {None}
    define = etree.fromstring(archive.read("define.xml"))
    schema = etree.XMLSchema(etree.parse(str(DEFINE_XSD)))
    assert schema.validate(etree.ElementTree(define)), schema.error_log


def test_the_catalogue_and_the_specification_agree():
    targets = {t for form in catalogue.FORMS for f in form.fields for t in f.sdtm}
    declared = {f"{d.name}.{v.name}" for d in spec.DATASETS for v in d.variables}
    assert targets <= declared, targets - declared
    for dataset in spec.DATASETS:
        for variable in dataset.variables:
            if variable.origin == "Collected":
                assert catalogue.sdtm_sources(f"{dataset.name}.{variable.name}"), variable


@pytest.mark.requirement("API-EXPORT-CREATE", "API-EXPORT-STATUS", "API-EXPORT-SDTM")
def test_the_api_makes_the_package_for_a_statistician(
    seeded, make_user, api_for, celery_eager, django_capture_on_commit_callbacks
):
    client = api_for(make_user("statistician", username="stat_sdtm"))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/api/v1/exports/", {"kind": "sdtm", "format": "dataset-json"}, format="json"
        )
    assert response.status_code == 202, response.json()
    body = client.get(f"/api/v1/exports/{response.json()['id']}/").json()
    assert (body["status"], body["progress"], body["kind"]) == ("done", 100, "sdtm")
    download = client.get(body["download_url"])
    archive = zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content)))
    assert {"dm.json", "ae.json", "define.xml", "README.md"} <= set(archive.namelist())
    assert body["chain_head"] in archive.read("README.md").decode()
    dm = records(json.loads(archive.read("dm.json")))
    arm = seeded.a.allocation.arm
    assert {(row["ARMCD"], row["ARM"]) for row in dm if row["SUBJID"] == "S01-001"} == {
        (arm.code.upper(), arm.name_en)
    }


def test_text_over_200_bytes_goes_on_in_supp_in_sas_transport(seeded, coordinator_a, tmp_path):
    term = "投与後に全身のそう痒感と発疹が出現し、抗ヒスタミン薬で軽快した。" * 5
    assert len(term.encode()) > 2 * 200
    with at("2026-03-16"):
        adverse_event_record(
            participant=seeded.a,
            term=term,
            onset_date=dt.date(2026, 3, 16),
            ctcae_grade=1,
            serious=False,
            related=True,
            outcome="recovering",
            performed_by=coordinator_a,
        )
    archive = export_zip(write_sdtm_xpt, scope_for(seeded))
    assert "suppae.xpt" in archive.namelist()
    frames = {}
    for name in ("ae.xpt", "suppae.xpt"):
        path = tmp_path / name
        path.write_bytes(archive.read(name))
        frames[name], _meta = pyreadstat.read_xport(str(path))
    ae, supp = frames["ae.xpt"], frames["suppae.xpt"]
    row = ae[ae["AETERM"].str.startswith("投与後")].iloc[0]
    assert len(row["AETERM"].encode()) <= 200
    parts = supp[
        (supp["IDVARVAL"] == str(int(row["AESEQ"]))) & supp["QNAM"].str.startswith("AETERM")
    ]
    assert list(parts["QNAM"]) == [f"AETERM{n}" for n in range(1, len(parts) + 1)]
    assert set(parts["IDVAR"]) == {"AESEQ"} and set(parts["RDOMAIN"]) == {"AE"}
    assert row["AETERM"] + "".join(parts["QVAL"]) == term
    define = etree.fromstring(archive.read("define.xml"))
    schema = etree.XMLSchema(etree.parse(str(DEFINE_XSD)))
    assert schema.validate(etree.ElementTree(define)), schema.error_log
    assert define.find(f".//{ODM}ItemGroupDef[@OID='IG.SUPPAE']") is not None
    assert "SUPPAE" in archive.read("README.md").decode()
    whole = datasets_of(export_zip(write_sdtm_dataset_json, scope_for(seeded)))
    assert term in {r["AETERM"] for r in records(whole["AE"])}
    assert "SUPPAE" not in whole
