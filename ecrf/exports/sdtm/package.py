"""The SDTM export: one file per dataset, define.xml and a README of the mapping, zipped.

Dataset-JSON files take each row as PostgreSQL writes it (:mod:`.queries`), through a
temporary file so that the row count the header states is the count written, and
memory stays flat however many rows there are. SAS transport files are written by
pyreadstat from one dataset's DataFrame at a time.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
import shutil
import tempfile
import tomllib
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from django.conf import settings
from django.utils import timezone, translation

from ecrf.exports.formats import datasetjson
from ecrf.exports.formats.clinical import split_text
from ecrf.exports.formats.dictionary import study_zone
from ecrf.studies.models import Arm, Study, VisitDefinition

from . import queries, spec
from .define import METADATA_VERSION_OID, StudyMetadata, collected_on, group_oid, item_oid
from .define import write_define as define_xml

if TYPE_CHECKING:
    from ecrf.exports.formats.base import ExportScope, Progress

SOURCE_SYSTEM = "tacrolimus-ecrf"


@functools.cache
def source_system_version() -> str:
    """The eCRF's version, as pyproject.toml states it."""
    with (Path(settings.BASE_DIR) / "pyproject.toml").open("rb") as project:
        return str(tomllib.load(project)["project"]["version"])


SLOT_MODEL = "randomization.Slot"
#: How often, in rows, progress is reported.
PROGRESS_EVERY = 5000
#: The longest text one SAS transport v5 value holds, in bytes.
XPT_TEXT_MAX_BYTES = 200


@dataclass
class Package:
    """What every dataset of one export is derived from."""

    scope: ExportScope
    study: Study
    subjects: queries.Subjects
    visit_days: dict[str, int | None]
    codelists: dict[str, spec.CodeList]
    design: dict[str, list[tuple[Any, ...]]]
    created: dt.datetime
    chain_head: str
    row_counts: dict[str, int] = field(default_factory=dict)
    extra_datasets: list[spec.Dataset] = field(default_factory=list)

    @property
    def datasets(self) -> tuple[spec.Dataset, ...]:
        """The package's datasets: the trial's arms (TA, TE) only for a recipient the
        study does not blind, and whatever supplemental qualifiers the writing needed."""
        shown = [
            d
            for d in spec.DATASETS
            if self.scope.arm_visible or d.name not in spec.ARM_DESIGN_DATASETS
        ]
        return (*shown, *self.extra_datasets)

    def dataset_header(self, dataset: spec.Dataset) -> datasetjson.Dataset:
        return datasetjson.Dataset(
            item_group_oid=group_oid(dataset.name),
            name=dataset.name,
            label=dataset.label,
            study_oid=self.study_oid,
            metadata_version_oid=METADATA_VERSION_OID,
            metadata_ref="define.xml",
            file_oid=f"{self.study_oid}.{dataset.name}.{self.created:%Y%m%dT%H%M%S}",
            originator=SOURCE_SYSTEM,
            source_system=SOURCE_SYSTEM,
            source_system_version=source_system_version(),
            created=self.created,
        )

    @property
    def study_oid(self) -> str:
        return f"STUDY.{self.study.code}"


def columns_of(dataset: spec.Dataset) -> list[datasetjson.Column]:
    return [
        datasetjson.Column(
            oid=item_oid(dataset.name, v.name),
            name=v.name,
            label=v.label,
            data_type=v.json_type,  # type: ignore[arg-type]
            length=v.length if v.json_type == "string" else None,
            key_sequence=v.key,
        )
        for v in dataset.variables
    ]


def _visit_days(study: Study) -> dict[str, int | None]:
    """Each visit's planned study day: from the first dose (day 1), which comes
    ``dosing_start_offset`` days from the embryo transfer."""
    first = study.dosing_start_offset

    def day(offset_from_transfer: int) -> int:
        days = offset_from_transfer - first
        return days + 1 if days >= 0 else days

    days: dict[str, int | None] = {"screening": None, "randomization": None, "treatment": day(0)}
    for visit in VisitDefinition.objects.filter(study=study):
        days[visit.code] = day(visit.target_offset)
    return days


def _arms(study: Study) -> list[Arm]:
    return list(Arm.objects.filter(study=study).order_by("order", "code"))


def _element(arm: Arm) -> tuple[str, str]:
    return arm.code.upper()[:8], f"Tacrolimus {arm.daily_dose_mg.normalize():f} mg/day"


def _trial_design(
    study: Study, subjects: queries.Subjects, visit_days: dict[str, int | None]
) -> dict[str, list[tuple[Any, ...]]]:
    studyid = study.code
    arms = _arms(study)
    first = study.dosing_start_offset
    visit_rules = {v.code: v for v in VisitDefinition.objects.filter(study=study)}
    ta: list[tuple[Any, ...]] = []
    te: list[tuple[Any, ...]] = [
        (
            studyid,
            "TE",
            spec.SCREENING_ELEMENT,
            "Screening",
            "Screening",
            "First dose of tacrolimus",
            None,
        ),
    ]
    for arm in arms:
        code, element = _element(arm)
        armcd = arm.code.upper()
        ta += [
            (
                studyid,
                "TA",
                armcd,
                arm.name_en,
                1,
                spec.SCREENING_ELEMENT,
                "Screening",
                f"Randomized to {arm.name_en}",
                None,
                "SCREENING",
            ),
            (studyid, "TA", armcd, arm.name_en, 2, code, element, None, None, "TREATMENT"),
            (
                studyid,
                "TA",
                armcd,
                arm.name_en,
                3,
                spec.FOLLOW_UP_ELEMENT,
                "Follow-up",
                None,
                None,
                "FOLLOW-UP",
            ),
        ]
        te.append(
            (
                studyid,
                "TE",
                code,
                element,
                f"First dose of {element}, {-first} days before the embryo transfer",
                f"{study.dosing_days} days of dosing",
                f"P{study.dosing_days}D",
            )
        )
    te.append(
        (
            studyid,
            "TE",
            spec.FOLLOW_UP_ELEMENT,
            "Follow-up",
            "The day after the last dose",
            "The clinical pregnancy assessment, or withdrawal",
            None,
        )
    )
    names = queries.visit_names()
    tv: list[tuple[Any, ...]] = []
    for code, number in queries.VISIT_NUMBERS.items():
        if code == "screening":
            start, end = "Before consent and the eligibility assessment", "Eligibility assessed"
        elif code == "randomization":
            start, end = "Consent given and eligibility confirmed", "Randomized"
        elif code == "treatment":
            start, end = "The embryo transfer day (ET)", "The embryo transfer day (ET)"
        else:
            rule = visit_rules.get(code)
            start = f"ET+{rule.window_start_offset}" if rule else ""
            end = f"ET+{rule.window_end_offset}" if rule else ""
        tv.append((studyid, "TV", number, names[code], visit_days.get(code), None, start, end))
    ti = [
        (studyid, "TI", testcd, text, category, "1")
        for _code, testcd, text, category in queries.criteria_codes()
    ]
    started = queries.first_consent(subjects)
    with translation.override("en"):
        ts_values = {
            "TITLE": study.title_en,
            "REGID": study.registry_id,
            "STYPE": "INTERVENTIONAL",
            "RANDOM": "Y",
            "TBLIND": "DOUBLE BLIND" if study.blinded else "OPEN LABEL",
            "NARMS": str(len(arms)),
            "PLANSUB": str(study.target_enrollment),
            "SEXPOP": "F",
            "AGEMIN": f"P{study.eligibility_age_min}Y",
            "AGEMAX": f"P{study.eligibility_age_max - 1}Y",
            "TRT": "TACROLIMUS",
            "ROUTE": "ORAL",
            "DOSFRQ": "BID",
            "DOSU": "mg",
            "INDIC": "Refractory infertility with a Th1-dominant immune state",
            "OUTMSPRI": "Clinical pregnancy: a gestational sac on transvaginal ultrasound at ET+21",
            "OUTMSSEC": "Biochemical pregnancy: serum hCG at ET+14",
            "SDTIGVER": spec.SDTMIG_VERSION,
            "SDTMVER": spec.SDTM_VERSION,
            "SSTDTC": started.isoformat() if started else "",
        }
    ts = []
    sequence: dict[str, int] = {}
    for code, name, _codelist in spec.TS_PARAMETERS:
        value = ts_values.get(code) or ""
        if not value:
            continue
        sequence[code] = sequence.get(code, 0) + 1
        ts.append((studyid, "TS", sequence[code], code, name, value))
    return {"TA": ta, "TE": te, "TV": tv, "TI": ti, "TS": ts}


def _study_codelists(arms: list[Arm]) -> dict[str, spec.CodeList]:
    criteria = queries.criteria_codes()
    elements = [
        (spec.SCREENING_ELEMENT, "Screening"),
        *(_element(arm) for arm in arms),
        (spec.FOLLOW_UP_ELEMENT, "Follow-up"),
        (spec.UNPLANNED_ELEMENT, "Unplanned element"),
    ]
    return {
        **spec.CODELISTS,
        "IETESTCD": spec.CodeList(
            "CL.IETESTCD", "IETESTCD", tuple((code, text) for _c, code, text, _k in criteria)
        ),
        "IETEST": spec.CodeList(
            "CL.IETEST", "IETEST", tuple((text, text) for _c, _code, text, _k in criteria)
        ),
        "ETCD": spec.CodeList("CL.ETCD", "ETCD", tuple(elements)),
        "TSPARMCD": spec.CodeList(
            "CL.TSPARMCD",
            "TSPARMCD",
            tuple((code, name) for code, name, _cl in spec.TS_PARAMETERS),
            nci_code="C66738",
        ),
        "TSPARM": spec.CodeList(
            "CL.TSPARM",
            "TSPARM",
            tuple((name, name) for _code, name, _cl in spec.TS_PARAMETERS),
            nci_code="C67152",
        ),
    }


def package_for(scope: ExportScope, *, chain_head: str) -> Package:
    study = Study.objects.get(pk=scope.study_id)
    subjects = queries.Subjects(
        studyid=study.code,
        study_pk=study.pk,
        site_ids=tuple(scope.site_ids),
        subject_id=scope.subject_id,
        zone=str(study_zone()),
        arm_shown=scope.arm_visible and SLOT_MODEL not in scope.concealed_models,
        dose_shown=scope.arm_visible,
    )
    visit_days = _visit_days(study)
    return Package(
        scope=scope,
        study=study,
        subjects=subjects,
        visit_days=visit_days,
        codelists=_study_codelists(_arms(study) if scope.arm_visible else []),
        design=_trial_design(study, subjects, visit_days),
        created=timezone.now().astimezone(study_zone()).replace(microsecond=0),
        chain_head=chain_head,
    )


class _Progress:
    def __init__(self, progress: Progress, total: int) -> None:
        self.progress = progress
        self.total = max(total, 1)
        self.done = 0
        progress(0, self.total)

    def step(self, rows: int) -> None:
        self.done += rows
        self.total = max(self.total, self.done + 1)
        self.progress(self.done, self.total)

    def finish(self) -> None:
        self.progress(self.done, self.done)


def _metadata(package: Package, extension: str) -> StudyMetadata:
    study = package.study
    return StudyMetadata(
        study_oid=package.study_oid,
        study_name=study.code,
        description=study.title_en,
        protocol_name=study.registry_id or study.code,
        created=package.created,
        source_system=SOURCE_SYSTEM,
        source_system_version=source_system_version(),
        file_extension=extension,
    )


def _json_rows(package: Package, dataset: spec.Dataset) -> Iterator[bytes]:
    """Each row of the dataset as a JSON array, encoded."""
    if dataset.name in package.design:
        columns = columns_of(dataset)
        for row in package.design[dataset.name]:
            values = [datasetjson.json_value(v, c, [0]) for v, c in zip(row, columns, strict=True)]
            yield json.dumps(values, ensure_ascii=False).encode()
        return
    sql = queries.json_rows_sql(dataset.name, package.subjects, package.visit_days)
    for (text,) in queries.stream(sql, package.subjects.params):
        yield text.encode()


def _typed_rows(package: Package, dataset: spec.Dataset) -> Iterator[Sequence[Any]]:
    if dataset.name in package.design:
        yield from package.design[dataset.name]
        return
    sql = queries.domain_sql(dataset.name, package.subjects, package.visit_days)
    yield from queries.stream(sql, package.subjects.params)


def _write_json_dataset(
    package: Package, dataset: spec.Dataset, archive: zipfile.ZipFile, tracker: _Progress
) -> int:
    count = 0
    with tempfile.TemporaryFile() as body:
        for encoded in _json_rows(package, dataset):
            body.write(datasetjson.row_separator(count) + encoded)
            count += 1
            if count % PROGRESS_EVERY == 0:
                tracker.step(PROGRESS_EVERY)
        tracker.step(count % PROGRESS_EVERY)
        body.seek(0)
        header = datasetjson.header(
            package.dataset_header(dataset), columns_of(dataset), records=count
        )
        with archive.open(f"{dataset.file_stem}.json", "w", force_zip64=True) as target:
            target.write(header)
            shutil.copyfileobj(body, target, 1 << 20)
            target.write(datasetjson.CLOSING)
    return count


def write_sdtm_dataset_json(
    scope: ExportScope, out: BinaryIO, *, progress: Progress, chain_head: str
) -> None:
    """A zip of one Dataset-JSON v1.1 file per SDTM dataset, define.xml and README.md."""
    package = package_for(scope, chain_head=chain_head)
    tracker = _Progress(progress, queries.estimate_rows(package.subjects))
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for dataset in package.datasets:
            package.row_counts[dataset.name] = _write_json_dataset(
                package, dataset, archive, tracker
            )
        _finish(package, archive, ".json", "dataset-json")
    tracker.finish()


#: One supplemental qualifier row: STUDYID, RDOMAIN, USUBJID, IDVAR, IDVARVAL, QNAM,
#: QLABEL, QVAL, QORIG, QEVAL.
Qualifier = tuple[str, str, str, str, str, str, str, str, str, None]


def _parent_key(dataset: spec.Dataset) -> str:
    """The variable a supplemental qualifier names its parent record by."""
    for variable in dataset.keys:
        if variable.name.endswith("SEQ") or variable.name == "VISITNUM":
            return variable.name
    raise ValueError(f"{dataset.name} has no record key for supplemental qualifiers")


def _overflow_name(variable: str, part: int) -> str:
    suffix = str(part)
    return variable[: 8 - len(suffix)] + suffix


def _frame(
    dataset: spec.Dataset, rows: Iterator[Sequence[Any]] | list[tuple[Any, ...]]
) -> tuple[Any, list[Qualifier]]:
    """The dataset as a DataFrame for pyreadstat, and the supplemental qualifiers that
    hold what SAS transport's 200 bytes per value could not (SDTMIG 4.5.3.2)."""
    import pandas as pd  # noqa: PLC0415  (heavy: loaded only to write XPT)

    names = [v.name for v in dataset.variables]
    columns: list[list[Any]] = [[] for _ in dataset.variables]
    overflow: list[Qualifier] = []
    text_columns = [i for i, v in enumerate(dataset.variables) if not v.numeric]
    for row in rows:
        values = list(row)
        for index in text_columns:
            value = values[index]
            if value is None or len(str(value).encode()) <= XPT_TEXT_MAX_BYTES:
                continue
            parent, *rest = split_text(str(value), XPT_TEXT_MAX_BYTES)
            values[index] = parent
            variable = dataset.variables[index]
            key = _parent_key(dataset)
            record = dict(zip(names, row, strict=True))
            for number, part in enumerate(rest, start=1):
                overflow.append(
                    (
                        record["STUDYID"],
                        dataset.name,
                        record["USUBJID"],
                        key,
                        str(record[key]),
                        _overflow_name(variable.name, number),
                        f"{variable.label[:36]} {number}",
                        part,
                        "DERIVED",
                        None,
                    )
                )
        for column, value in zip(columns, values, strict=True):
            column.append(value)
    data: dict[str, Any] = {}
    for variable, values in zip(dataset.variables, columns, strict=True):
        if variable.numeric:
            data[variable.name] = pd.Series(
                [math.nan if v is None else float(v) for v in values], dtype="float64"
            )
        else:
            data[variable.name] = pd.Series(
                ["" if v is None else str(v) for v in values], dtype="object"
            )
    return pd.DataFrame(data), overflow


def _write_xpt(archive: zipfile.ZipFile, workdir: str, dataset: spec.Dataset, frame: Any) -> None:
    import pyreadstat  # noqa: PLC0415  (heavy: loaded only to write XPT)

    path = Path(workdir) / f"{dataset.file_stem}.xpt"
    pyreadstat.write_xport(
        frame,
        str(path),
        file_label=dataset.label,
        column_labels={v.name: v.label for v in dataset.variables},
        table_name=dataset.name,
        file_format_version=5,
    )
    with path.open("rb") as source, archive.open(path.name, "w", force_zip64=True) as target:
        shutil.copyfileobj(source, target, 1 << 20)
    path.unlink()


def overflow_dataset(parent: spec.Dataset) -> spec.Dataset:
    """Where the text of ``parent`` beyond 200 bytes goes in SAS transport."""
    return spec.supplemental(
        parent.name,
        record=_parent_key(parent),
        qval_length=XPT_TEXT_MAX_BYTES,
        qval_origin="Derived",
        qval_method=spec.OVERFLOW_METHOD,
    )


def write_sdtm_xpt(
    scope: ExportScope, out: BinaryIO, *, progress: Progress, chain_head: str
) -> None:
    """A zip of one SAS transport (XPT v5) file per SDTM dataset, define.xml and README.md.

    A text longer than 200 bytes keeps its first 200 in its variable and the rest in the
    domain's supplemental qualifiers (``SUPP--``, SDTMIG 4.5.3.2): nothing is cut off.
    """
    package = package_for(scope, chain_head=chain_head)
    tracker = _Progress(progress, queries.estimate_rows(package.subjects))
    overflow: dict[str, list[Qualifier]] = {}
    with (
        tempfile.TemporaryDirectory() as workdir,
        zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive,
    ):
        for dataset in package.datasets:
            frame, extra = _frame(dataset, _typed_rows(package, dataset))
            if extra:
                if (
                    dataset.reference_data
                    or dataset.name.startswith("SUPP")
                    or any(d.name == f"SUPP{dataset.name}" for d in spec.DATASETS)
                ):
                    raise ValueError(f"{dataset.name}: a value longer than SAS transport holds")
                overflow[dataset.name] = extra
            _write_xpt(archive, workdir, dataset, frame)
            package.row_counts[dataset.name] = len(frame)
            tracker.step(len(frame))
        for name, rows in overflow.items():
            parent = spec.dataset(name)
            supplemental = overflow_dataset(parent)
            package.extra_datasets.append(supplemental)
            package.codelists[f"QNAM_{name}"] = spec.CodeList(
                f"CL.QNAM_{name}",
                f"QNAM_{name}",
                tuple(sorted({(row[5], row[6]) for row in rows})),
            )
            frame, _none = _frame(supplemental, iter(rows))
            _write_xpt(archive, workdir, supplemental, frame)
            package.row_counts[supplemental.name] = len(frame)
        _finish(package, archive, ".xpt", "xpt")
    tracker.finish()


def _finish(
    package: Package,
    archive: zipfile.ZipFile,
    extension: str,
    export_format: str,
) -> None:
    archive.writestr(
        "define.xml",
        define_xml(
            metadata=_metadata(package, extension),
            codelists=package.codelists,
            datasets=package.datasets,
        ),
    )
    archive.writestr("README.md", readme(package, extension, export_format))


def readme(package: Package, extension: str, export_format: str) -> str:
    """The mapping in words: the standard, the choices made, every dataset's variables
    and where each comes from, the scope, the counts and the audit chain's head."""
    study = package.study
    scope = package.scope
    file_format = "Dataset-JSON v1.1" if export_format == "dataset-json" else "SAS transport v5"
    subjects = f"participant {scope.subject_id}" if scope.subject_id else "every participant"
    arm = (
        "shown"
        if package.subjects.arm_shown
        else "concealed (DM ARMNRS ARM CONCEALED, SE element UNPLAN)"
    )
    lines = [
        f"# SDTM datasets of {study.code}: {study.title_en}",
        "",
        f"- Standard: SDTM {spec.SDTM_VERSION}, SDTMIG {spec.SDTMIG_VERSION}; "
        f"controlled terminology: CDISC SDTM CT {spec.CT_VERSION}.",
        f"- Format: {file_format} ({extension} files), described by define.xml (Define-XML 2.1).",
        f"- Made: {package.created.isoformat()} ({study_zone()}), one database snapshot; "
        f"audit chain head: {package.chain_head}.",
        f"- Subjects: {subjects} of {len(scope.site_ids)} site(s); the arm is {arm}.",
        "- USUBJID is the study code, a hyphen and the subject ID, the same in every dataset.",
        "- --DY counts from RFSTDTC (the first intake taken) as day 1, with no day 0.",
        "",
        "## Choices",
        "",
        "- DM holds every participant of the screening log, screen failures included "
        "(ARMNRS SCREEN FAILURE), so that IE and DS name subjects DM knows.",
        "- RFSTDTC/RFENDTC are the first and last intake taken (the dose diary), as are "
        "RFXSTDTC/RFXENDTC; RFICDTC is the consent date; AGE is at consent.",
        "- EC holds every dose diary entry, taken or missed (ECOCCUR, ECREASOC); EX holds "
        "the intakes taken. Each record is one intake (EXDOSFRQ ONCE; the regimen is BID).",
        "- Pregnancy outcomes are in RP (Reproductive System Findings): SDTMIG 3.4 places "
        "findings about the reproductive system and pregnancy there; the serum hCG value "
        "itself is a laboratory result, in LB (LBTESTCD HCG). The RP test codes are the "
        "sponsor's extension of RPTESTCD, marked as extended values in define.xml.",
        "- Vital signs (blood pressure) are entered on the safety-lab form and go to VS; "
        "the other analytes go to LB with each site's normal range and LBNRIND.",
        "- Laboratory results are reported by the sites in the units of the study's normal "
        "ranges; the standard result (--STRES*) repeats the original.",
        "- AEDECOD repeats the reported CTCAE term and AEBODSYS is empty: MedDRA coding is "
        "not part of the eCRF. AEREL is Y or N (related to tacrolimus).",
        "- SUPPPR holds the number, stage and grade of the embryos transferred.",
        "- TA and TE name the arms and their doses: a recipient the study blinds gets "
        "neither, her SE names the treatment element UNPLAN, and EXDOSE and ECDOSE are "
        "empty (the dose of an intake tells the arm).",
        "- SAS transport holds 200 bytes per value: a longer text (UTF-8; Japanese takes "
        "three bytes a character) keeps its first 200 bytes in its variable and the rest in "
        "the domain's SUPP-- dataset, QNAM the variable's name and the part's number "
        "(SDTMIG 4.5.3.2). Dataset-JSON holds every text whole.",
        "",
        "## Datasets",
        "",
        "| dataset | records | structure |",
        "|---|---|---|",
    ]
    for dataset in package.datasets:
        lines.append(
            f"| {dataset.name} ({dataset.label}) | {package.row_counts.get(dataset.name, 0)} "
            f"| {dataset.structure} |"
        )
    for dataset in package.datasets:
        lines += ["", f"### {dataset.name}: {dataset.label}", ""]
        lines += ["| variable | label | origin | from |", "|---|---|---|---|"]
        for variable in dataset.variables:
            source = (
                collected_on(dataset.name, variable.name)
                if variable.origin == "Collected"
                else variable.method or variable.comment
            )
            lines.append(
                f"| {variable.name} | {variable.label} | {variable.origin} | "
                f"{(source or variable.comment).replace('|', '/')} |"
            )
    return "\n".join(lines) + "\n"
