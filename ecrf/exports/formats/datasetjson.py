"""CDISC Dataset-JSON v1.1: one dataset written as it is read, row by row.

The metadata (the dataset, its columns with the item OIDs of define.xml) comes first and
the rows follow, so a reader may stream the file and a writer never holds more than one
row. Values take the JSON type of their column's ``dataType``: ``decimal`` is written as
a string, so that no digit is lost to a binary float (as the standard asks); dates and
times are ISO 8601 strings; a missing value is ``null``. JSON holds any character but a
lone surrogate, which cannot be encoded: such a character is written as U+FFFD and the
count logged, so that no export fails on what is already stored.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, BinaryIO, Literal

logger = logging.getLogger(__name__)

VERSION = "1.1.0"

DataType = Literal[
    "string", "integer", "decimal", "float", "double", "boolean", "datetime", "date", "time"
]

_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class Column:
    """One variable: its OID in define.xml, name, label, type and, for text, its length."""

    oid: str
    name: str
    label: str
    data_type: DataType
    length: int | None = None
    key_sequence: int | None = None

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "itemOID": self.oid,
            "name": self.name,
            "label": self.label,
            "dataType": self.data_type,
        }
        if self.length is not None:
            body["length"] = self.length
        if self.key_sequence is not None:
            body["keySequence"] = self.key_sequence
        return body


@dataclass(frozen=True)
class Dataset:
    """What the file says of itself and of where it comes from."""

    item_group_oid: str
    name: str
    label: str
    study_oid: str
    metadata_version_oid: str
    metadata_ref: str
    file_oid: str
    originator: str
    source_system: str
    source_system_version: str
    created: dt.datetime
    db_last_modified: dt.datetime | None = None


def _timestamp(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _text(value: str, replaced: list[int]) -> str:
    cleaned, count = _SURROGATE.subn("\ufffd", value)
    replaced[0] += count
    return cleaned


def json_value(value: Any, column: Column, replaced: list[int]) -> Any:
    """``value`` as the JSON type of its column; ``replaced`` counts characters written as
    U+FFFD."""
    if value is None:
        return None
    kind = column.data_type
    if kind == "decimal":
        return str(value if isinstance(value, Decimal) else Decimal(str(value)))
    if kind in {"float", "double"}:
        return float(value)
    if kind == "integer":
        return int(value)
    if kind == "boolean":
        return bool(value)
    if kind in {"date", "datetime", "time"} and not isinstance(value, str):
        return value.isoformat()
    return _text(str(value), replaced)


def header(dataset: Dataset, columns: Sequence[Column], *, records: int) -> bytes:
    """The file up to its first row: the metadata, then ``"rows": [``."""
    body: dict[str, Any] = {
        "datasetJSONCreationDateTime": _timestamp(dataset.created),
        "datasetJSONVersion": VERSION,
        "fileOID": dataset.file_oid,
        "originator": dataset.originator,
        "sourceSystem": {"name": dataset.source_system, "version": dataset.source_system_version},
        "studyOID": dataset.study_oid,
        "metaDataVersionOID": dataset.metadata_version_oid,
        "metaDataRef": dataset.metadata_ref,
        "itemGroupOID": dataset.item_group_oid,
        "records": records,
        "name": dataset.name,
        "label": dataset.label,
        "columns": [column.as_json() for column in columns],
    }
    if dataset.db_last_modified is not None:
        body["dbLastModifiedDateTime"] = _timestamp(dataset.db_last_modified)
    opening = json.dumps(body, ensure_ascii=False)
    return opening[:-1].encode() + b', "rows": ['


#: What closes the file after its last row.
CLOSING = b"\n]}\n"


def row_separator(index: int) -> bytes:
    """What precedes row ``index`` (from 0): one row per line."""
    return b",\n" if index else b"\n"


def write_dataset_json(
    out: BinaryIO,
    dataset: Dataset,
    columns: Sequence[Column],
    rows: Iterable[Sequence[Any]],
    *,
    records: int,
) -> int:
    """Write one dataset of ``records`` rows to ``out``; answer how many were written.

    ``records`` is counted by the caller in the same snapshot as ``rows`` (the header
    precedes the rows); a different number of rows is an error, not a wrong file.
    """
    out.write(header(dataset, columns, records=records))
    replaced = [0]
    written = 0
    for row in rows:
        if len(row) != len(columns):
            raise ValueError(
                f"{dataset.name}: row {written + 1} has {len(row)} values for "
                f"{len(columns)} columns"
            )
        values = [json_value(v, c, replaced) for v, c in zip(row, columns, strict=True)]
        out.write(row_separator(written) + json.dumps(values, ensure_ascii=False).encode())
        written += 1
    out.write(CLOSING)
    if written != records:
        raise ValueError(f"{dataset.name}: {written} rows written, {records} announced")
    if replaced[0]:
        logger.warning(
            "Dataset-JSON %s: %d character(s) JSON cannot encode written as U+FFFD",
            dataset.name,
            replaced[0],
        )
    return written
