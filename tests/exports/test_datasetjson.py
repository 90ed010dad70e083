"""The Dataset-JSON v1.1 writer: files valid against CDISC's schema, values read back
as written, and no failure on text already stored with characters JSON cannot encode."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest

from ecrf.exports.formats.datasetjson import Column, Dataset, write_dataset_json

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas" / "dataset-json-1.1"

COLUMNS = [
    Column("IT.AE.STUDYID", "STUDYID", "Study Identifier", "string", length=6, key_sequence=1),
    Column("IT.AE.USUBJID", "USUBJID", "Unique Subject Identifier", "string", 14, 2),
    Column("IT.AE.AESEQ", "AESEQ", "Sequence Number", "integer", key_sequence=3),
    Column("IT.AE.AETERM", "AETERM", "Reported Term for the Adverse Event", "string", 200),
    Column("IT.AE.AESTDTC", "AESTDTC", "Start Date/Time of Adverse Event", "date"),
    Column("IT.AE.AESER", "AESER", "Serious Event", "boolean"),
    Column("IT.AE.DOSE", "DOSE", "Dose", "decimal"),
]

DATASET = Dataset(
    item_group_oid="IG.AE",
    name="AE",
    label="Adverse Events",
    study_oid="ST.TAC-RI",
    metadata_version_oid="MDV.TAC-RI.1",
    metadata_ref="define.xml",
    file_oid="TAC-RI.AE",
    originator="Tacrolimus trial eCRF",
    source_system="ecrf",
    source_system_version="1",
    created=dt.datetime(2026, 12, 6, 9, 0, tzinfo=dt.UTC),
    db_last_modified=dt.datetime(2026, 12, 6, 8, 59, 30, tzinfo=dt.UTC),
)


def _write(rows: list[list[object]], records: int | None = None) -> dict[str, object]:
    out = io.BytesIO()
    written = write_dataset_json(
        out, DATASET, COLUMNS, iter(rows), records=len(rows) if records is None else records
    )
    assert written == len(rows)
    return json.loads(out.getvalue().decode("utf-8"))


def _schema() -> dict[str, object]:
    return json.loads((SCHEMAS / "dataset.schema.json").read_text())


@pytest.mark.requirement("ICH-E6R3-4.2.2-INTERPRETABLE")
def test_a_written_dataset_is_valid_and_gives_back_its_values() -> None:
    rows: list[list[object]] = [
        ["TAC-RI", "TAC-RI-S01-001", 1, "Headache", dt.date(2026, 3, 1), False, Decimal("2.00")],
        ["TAC-RI", "TAC-RI-S01-001", 2, "頭痛", dt.date(2026, 3, 4), True, None],
    ]
    document = _write(rows)
    jsonschema.Draft201909Validator(_schema()).validate(document)
    assert document["records"] == 2
    assert [c["itemOID"] for c in document["columns"]] == [c.oid for c in COLUMNS]
    assert document["rows"] == [
        ["TAC-RI", "TAC-RI-S01-001", 1, "Headache", "2026-03-01", False, "2.00"],
        ["TAC-RI", "TAC-RI-S01-001", 2, "頭痛", "2026-03-04", True, None],
    ]
    assert document["datasetJSONCreationDateTime"] == "2026-12-06T09:00:00+00:00"
    assert document["sourceSystem"] == {"name": "ecrf", "version": "1"}


@pytest.mark.requirement("ICH-E6R3-4.2.2-INTERPRETABLE")
def test_an_empty_dataset_is_valid() -> None:
    document = _write([])
    jsonschema.Draft201909Validator(_schema()).validate(document)
    assert document["rows"] == [] and document["records"] == 0


@pytest.mark.requirement("ICH-E6R3-4.2.2-INTERPRETABLE")
def test_text_stored_with_control_characters_or_a_lone_surrogate_is_written_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stored = "Head\x01ache\x0b\x85"
    rows: list[list[object]] = [
        ["TAC-RI", "TAC-RI-S01-001", 1, stored, None, None, None],
        ["TAC-RI", "TAC-RI-S01-001", 2, "bad\ud800end", None, None, None],
    ]
    with caplog.at_level(logging.WARNING, logger="ecrf.exports.formats.datasetjson"):
        document = _write(rows)
    jsonschema.Draft201909Validator(_schema()).validate(document)
    assert document["rows"][0][3] == stored
    assert document["rows"][1][3] == "bad\ufffdend"
    assert "1 character(s)" in caplog.text


def test_a_row_count_other_than_announced_is_an_error() -> None:
    with pytest.raises(ValueError, match="1 rows written, 2 announced"):
        _write([["TAC-RI", "X", 1, "t", None, None, None]], records=2)
    with pytest.raises(ValueError, match="row 1 has 2 values for 7 columns"):
        _write([["TAC-RI", "X"]])
