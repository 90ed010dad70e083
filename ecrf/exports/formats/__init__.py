"""Every export the app can make: one entry per kind and format.

Writers are named as ``"module:function"`` and imported when an export runs, so this
table can be read (by forms, the API and validation) without loading any writer. A
writer may belong to a layer above the exports: the casebook is printed by
:mod:`ecrf.review.casebook` from the form reading of the review pages, the site archive
(:mod:`ecrf.review.archive`) holds casebooks, and the export jobs run them as they run
any other.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import BinaryIO

from .base import ExportFormat, ExportScope, Progress

__all__ = ["FORMATS", "ExportFormat", "ExportScope", "LazyWriter", "Progress", "formats_for"]


class LazyWriter:
    """A writer function found by its dotted name at the moment it is called."""

    def __init__(self, target: str) -> None:
        module, _, function = target.partition(":")
        if not module or not function:
            raise ValueError(f"Expected 'module:function', got {target!r}")
        self.target = target
        self._module = module
        self._function = function

    def resolve(self) -> Callable[..., None]:
        writer: Callable[..., None] = getattr(importlib.import_module(self._module), self._function)
        return writer

    def __call__(
        self, scope: ExportScope, out: BinaryIO, *, progress: Progress, chain_head: str
    ) -> None:
        self.resolve()(scope, out, progress=progress, chain_head=chain_head)

    def __repr__(self) -> str:
        return f"LazyWriter({self.target!r})"


def _lazy(kind: str, format: str, media_type: str, extension: str, target: str) -> ExportFormat:
    return ExportFormat(
        kind=kind,
        format=format,
        media_type=media_type,
        extension=extension,
        write=LazyWriter(target),
    )


_AUDIT = "ecrf.exports.formats.audit"
_CLINICAL = "ecrf.exports.formats.clinical"
_ODM = "ecrf.exports.formats.odm"

FORMATS: dict[tuple[str, str], ExportFormat] = {
    (entry.kind, entry.format): entry
    for entry in [
        _lazy("audit_trail", "csv", "text/csv", ".csv", f"{_AUDIT}:write_audit_csv"),
        _lazy("audit_trail", "odm", "application/xml", ".xml", f"{_ODM}:write_audit_odm"),
        _lazy("clinical_data", "csv", "application/zip", ".zip", f"{_CLINICAL}:write_clinical_csv"),
        _lazy(
            "clinical_data",
            "odm",
            "application/xml",
            ".xml",
            f"{_ODM}:write_clinical_odm",
        ),
        _lazy("clinical_data", "xpt", "application/zip", ".zip", f"{_CLINICAL}:write_clinical_xpt"),
        _lazy(
            "sdtm",
            "dataset-json",
            "application/zip",
            ".zip",
            "ecrf.exports.sdtm.package:write_sdtm_dataset_json",
        ),
        _lazy("sdtm", "xpt", "application/zip", ".zip", "ecrf.exports.sdtm.package:write_sdtm_xpt"),
        _lazy(
            "casebook",
            "pdf",
            "application/pdf",
            ".pdf",
            "ecrf.review.casebook:write_casebook_pdf",
        ),
        _lazy(
            "archive", "zip", "application/zip", ".zip", "ecrf.review.archive:write_site_archive"
        ),
        _lazy(
            "data_dictionary",
            "csv",
            "text/csv",
            ".csv",
            "ecrf.exports.formats.dictionary:write_dictionary_csv",
        ),
    ]
}


def formats_for(kind: str) -> list[str]:
    """The formats one kind of export can be written in, in the table's order."""
    return [fmt for (k, fmt) in FORMATS if k == kind]
