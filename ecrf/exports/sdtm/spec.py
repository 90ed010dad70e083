"""What the SDTM package holds: every dataset, variable and codelist, declared once.

SDTM v2.0 and SDTMIG 3.4, with CDISC controlled terminology (SDTM CT) of
:data:`CT_VERSION`. Datasets, the writers and define.xml are all read from
:data:`DATASETS` and :data:`CODELISTS`; a variable ``Collected`` names no source here,
because the form catalogue says which fields are collected into it
(:func:`ecrf.common.catalogue.sdtm_sources`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

SDTM_VERSION = "2.0"
SDTMIG_VERSION = "3.4"
#: The SDTM controlled terminology package the submission values are taken from.
CT_VERSION = "2024-09-27"

DataType = Literal["text", "integer", "float", "date", "datetime"]
Core = Literal["Req", "Exp", "Perm"]
Origin = Literal["Collected", "Derived", "Assigned", "Protocol"]

#: The longest text an SDTM variable may hold (SAS transport v5 and the FDA's rule).
TEXT_MAX = 200


@dataclass(frozen=True)
class Variable:
    """One column of a dataset, as define.xml describes it.

    ``method`` says how a derived value is computed; ``comment`` why an assigned or
    absent value is what it is. ``key`` is its place in the dataset's key.
    """

    name: str
    label: str
    data_type: DataType
    length: int | None
    core: Core
    origin: Origin
    codelist: str = ""
    method: str = ""
    comment: str = ""
    key: int | None = None

    @property
    def json_type(self) -> str:
        """Its ``dataType`` in Dataset-JSON (ISO 8601 dates are SDTM text)."""
        return {"integer": "integer", "float": "decimal"}.get(self.data_type, "string")

    @property
    def numeric(self) -> bool:
        return self.data_type in {"integer", "float"}


@dataclass(frozen=True)
class Dataset:
    """One SDTM dataset: its domain code, label, class, structure and variables."""

    name: str
    label: str
    observation_class: str
    structure: str
    variables: tuple[Variable, ...]
    reference_data: bool = False
    comment: str = ""

    @property
    def file_stem(self) -> str:
        return self.name.lower()

    def variable(self, name: str) -> Variable:
        for candidate in self.variables:
            if candidate.name == name:
                return candidate
        raise KeyError(f"{self.name}.{name}")

    @property
    def keys(self) -> tuple[Variable, ...]:
        return tuple(sorted((v for v in self.variables if v.key), key=lambda v: v.key or 0))


@dataclass(frozen=True)
class CodeList:
    """A codelist: CDISC's (with its NCI code) or the sponsor's; ``extended`` values are
    the sponsor's additions to an extensible CDISC codelist."""

    oid: str
    name: str
    values: tuple[tuple[str, str], ...]
    nci_code: str = ""
    data_type: Literal["text", "integer"] = "text"
    extended: tuple[str, ...] = ()

    @property
    def submission_values(self) -> frozenset[str]:
        return frozenset(code for code, _decode in self.values)


def _cl(
    name: str,
    nci: str,
    *values: tuple[str, str],
    extended: tuple[str, ...] = (),
    data_type: Literal["text", "integer"] = "text",
) -> CodeList:
    return CodeList(f"CL.{name}", name, values, nci, data_type, extended)


#: Who decided a withdrawal, as the disposition codelist (NCOMPLT) says it.
WITHDRAWAL_DECOD = {
    "participant": "WITHDRAWAL BY SUBJECT",
    "investigator": "PHYSICIAN DECISION",
    "sponsor": "OTHER",
}
#: Action taken with tacrolimus (ACN).
ACTION_TAKEN = {
    "none": "DOSE NOT CHANGED",
    "dose_reduced": "DOSE REDUCED",
    "interrupted": "DRUG INTERRUPTED",
    "withdrawn": "DRUG WITHDRAWN",
    "not_applicable": "NOT APPLICABLE",
}
#: Outcome of an adverse event (OUT).
AE_OUTCOME = {
    "recovered": "RECOVERED/RESOLVED",
    "recovering": "RECOVERING/RESOLVING",
    "not_recovered": "NOT RECOVERED/NOT RESOLVED",
    "recovered_with_sequelae": "RECOVERED/RESOLVED WITH SEQUELAE",
    "fatal": "FATAL",
    "unknown": "UNKNOWN",
}
#: The seriousness criteria and the AE flag each sets.
SERIOUSNESS_FLAGS = {
    "AESCONG": "congenital_anomaly",
    "AESDISAB": "disability",
    "AESDTH": "death",
    "AESHOSP": "hospitalisation",
    "AESLIFE": "life_threatening",
    "AESMIE": "other_medically_important",
}
#: The analytes of the safety-lab form: test code, test name and domain.
ANALYTES = {
    "systolic_bp": ("SYSBP", "Systolic Blood Pressure", "VS"),
    "diastolic_bp": ("DIABP", "Diastolic Blood Pressure", "VS"),
    "creatinine": ("CREAT", "Creatinine", "LB"),
    "potassium": ("K", "Potassium", "LB"),
    "glucose": ("GLUC", "Glucose", "LB"),
    "magnesium": ("MG", "Magnesium", "LB"),
}
HCG = ("HCG", "Choriogonadotropin Beta")
#: The pregnancy findings (RP): test code, test name, and the form field that holds it.
REPRODUCTIVE_TESTS = (
    ("BIOPREG", "Biochemical Pregnancy", "biochemical_pregnancy.result"),
    ("GESTSAC", "Gestational Sac Seen", "clinical_pregnancy.gestational_sac_seen"),
    ("GSACNUM", "Number of Gestational Sacs", "clinical_pregnancy.number_of_sacs"),
    ("FETHRTB", "Fetal Heartbeat Seen", "clinical_pregnancy.fetal_heartbeat"),
    ("ECTPREG", "Ectopic Pregnancy", "clinical_pregnancy.ectopic_pregnancy"),
    ("CLINPREG", "Clinical Pregnancy", "clinical_pregnancy.result"),
)
#: The embryo transfer's details, kept beside PR (SUPPPR): name, label, form field.
TRANSFER_QUALIFIERS = (
    ("EMBNUM", "Number of Embryos Transferred", "embryos_transferred"),
    ("EMBSTAGE", "Embryo Stage", "embryo_stage"),
    ("EMBGRADE", "Embryo Grade", "embryo_grade"),
)
#: Elements of the trial (TE): the screening, each arm's treatment, the follow-up.
SCREENING_ELEMENT = "SCRN"
FOLLOW_UP_ELEMENT = "FU"
#: A treatment element the reader may not see (the arm is concealed from her).
UNPLANNED_ELEMENT = "UNPLAN"
ARM_CONCEALED = "ARM CONCEALED"

CODELISTS: dict[str, CodeList] = {
    cl.name: cl
    for cl in (
        _cl("NY", "C66742", ("Y", "Yes"), ("N", "No")),
        _cl("SEX", "C66731", ("F", "Female")),
        _cl("AGEU", "C66781", ("YEARS", "Years")),
        _cl("COUNTRY", "", ("JPN", "Japan")),
        _cl(
            "ARMNRS",
            "C142179",
            ("SCREEN FAILURE", "Screen Failure"),
            ("NOT ASSIGNED", "Not Assigned"),
            ("ASSIGNED, NOT TREATED", "Assigned, Not Treated"),
            (ARM_CONCEALED, "The arm is concealed from the recipient of the export"),
            extended=(ARM_CONCEALED,),
        ),
        _cl("ROUTE", "C66729", ("ORAL", "Oral")),
        _cl("FRM", "C66726", ("CAPSULE", "Capsule")),
        _cl("FREQ", "C71113", ("ONCE", "Once"), ("BID", "Twice per day")),
        _cl(
            "UNIT",
            "C71620",
            ("mg", "Milligram"),
            ("mg/dL", "Milligram per Deciliter"),
            ("mmol/L", "Millimole per Liter"),
            ("mEq/L", "Milliequivalent per Liter"),
            ("umol/L", "Micromole per Liter"),
            ("mIU/mL", "Milli-International Unit per Milliliter"),
            ("IU/L", "International Unit per Liter"),
            ("mmHg", "Millimeter of Mercury"),
        ),
        _cl("TPT", "", ("MORNING", "After breakfast"), ("EVENING", "After dinner")),
        _cl("MOOD", "", ("PERFORMED", "Performed")),
        _cl("OUT", "C66768", *((v, v.title()) for v in AE_OUTCOME.values())),
        _cl("ACN", "C66767", *((v, v.title()) for v in ACTION_TAKEN.values())),
        _cl("TOXGR", "", *((str(g), f"Grade {g}") for g in range(1, 6))),
        _cl("NRIND", "C78736", ("LOW", "Low"), ("NORMAL", "Normal"), ("HIGH", "High")),
        _cl("SPECTYPE", "C78734", ("SERUM", "Serum")),
        _cl(
            "LBTESTCD",
            "C65047",
            *((code, name) for code, name, domain in ANALYTES.values() if domain == "LB"),
            HCG,
        ),
        _cl(
            "LBTEST",
            "C67154",
            *((name, name) for _c, name, domain in ANALYTES.values() if domain == "LB"),
            (HCG[1], HCG[1]),
        ),
        _cl(
            "VSTESTCD",
            "C66741",
            *((code, name) for code, name, domain in ANALYTES.values() if domain == "VS"),
        ),
        _cl(
            "VSTEST",
            "C67153",
            *((name, name) for _c, name, domain in ANALYTES.values() if domain == "VS"),
        ),
        _cl(
            "RPTESTCD",
            "C106480",
            *((code, name) for code, name, _f in REPRODUCTIVE_TESTS),
            extended=tuple(code for code, _n, _f in REPRODUCTIVE_TESTS),
        ),
        _cl(
            "RPTEST",
            "C106479",
            *((name, name) for _c, name, _f in REPRODUCTIVE_TESTS),
            extended=tuple(name for _c, name, _f in REPRODUCTIVE_TESTS),
        ),
        _cl("RESULT", "", ("POSITIVE", "Positive"), ("NEGATIVE", "Negative")),
        _cl("METHOD", "C85492", ("ULTRASOUND", "Ultrasound")),
        _cl(
            "DSCAT",
            "C74558",
            ("DISPOSITION EVENT", "Disposition Event"),
            ("PROTOCOL MILESTONE", "Protocol Milestone"),
        ),
        _cl(
            "DSDECOD",
            "",
            ("INFORMED CONSENT OBTAINED", "Informed Consent Obtained (PROTMLST)"),
            ("RANDOMIZED", "Randomized (PROTMLST)"),
            ("SCREEN FAILURE", "Screen Failure (NCOMPLT)"),
            ("COMPLETED", "Completed (NCOMPLT)"),
            ("WITHDRAWAL BY SUBJECT", "Withdrawal by Subject (NCOMPLT)"),
            ("PHYSICIAN DECISION", "Physician Decision (NCOMPLT)"),
            ("OTHER", "Other (NCOMPLT): withdrawal decided by the sponsor"),
        ),
        _cl(
            "EPOCH",
            "C99079",
            ("SCREENING", "Screening"),
            ("TREATMENT", "Treatment"),
            ("FOLLOW-UP", "Follow-up"),
        ),
        _cl("IECAT", "C66797", ("INCLUSION", "Inclusion"), ("EXCLUSION", "Exclusion")),
        _cl("PRTRT", "", ("EMBRYO TRANSFER", "Embryo transfer")),
        _cl(
            "QNAM_PR",
            "",
            *((name, label) for name, label, _field in TRANSFER_QUALIFIERS),
        ),
        _cl("SEXPOP", "C66732", ("F", "Female")),
        _cl("STYPE", "C99077", ("INTERVENTIONAL", "Interventional")),
        _cl(
            "TBLIND",
            "C66735",
            ("OPEN LABEL", "Open Label"),
            ("DOUBLE BLIND", "Double Blind"),
        ),
    )
}


def _v(
    name: str,
    label: str,
    data_type: DataType,
    length: int | None,
    core: Core,
    origin: Origin,
    **extra: str | int | None,
) -> Variable:
    return Variable(name, label, data_type, length, core, origin, **extra)  # type: ignore[arg-type]


_DY_METHOD = (
    "{dtc} minus RFSTDTC (the first dose), plus 1 on or after it; no day 0. Empty when "
    "either date is unknown."
)
_EPOCH_METHOD = (
    "SCREENING before the first dose (or with no dose), TREATMENT from the first to the "
    "last dose, FOLLOW-UP after the last dose."
)
_SEQ_METHOD = "Numbered 1, 2, ... within the subject, in the order of {order}."


def _study_identifiers() -> tuple[Variable, Variable]:
    return (
        _v("STUDYID", "Study Identifier", "text", 20, "Req", "Assigned", key=1),
        _v("DOMAIN", "Domain Abbreviation", "text", 2, "Req", "Assigned"),
    )


def _identifiers(domain: str, seq: str = "", order: str = "") -> tuple[Variable, ...]:
    head = (
        *_study_identifiers(),
        _v(
            "USUBJID",
            "Unique Subject Identifier",
            "text",
            30,
            "Req",
            "Derived",
            method="STUDYID, a hyphen, and the subject ID (site code and number).",
            key=2,
        ),
    )
    if not seq:
        return head
    return (
        *head,
        _v(
            seq,
            "Sequence Number",
            "integer",
            8,
            "Req",
            "Derived",
            method=_SEQ_METHOD.format(order=order),
            key=3,
        ),
    )


def _timing(prefix: str, *, end: bool = False, time: bool = False) -> tuple[Variable, ...]:
    kind: DataType = "datetime" if time else "date"
    size = 16 if time else 10
    if end:
        return (
            _v(
                f"{prefix}STDTC",
                "Start Date/Time of " + _NOUN[prefix],
                kind,
                size,
                "Exp",
                "Collected",
            ),
            _v(
                f"{prefix}ENDTC",
                "End Date/Time of " + _NOUN[prefix],
                kind,
                size,
                "Exp",
                "Collected",
            ),
            _v(
                f"{prefix}STDY",
                "Study Day of Start of " + _NOUN[prefix],
                "integer",
                8,
                "Perm",
                "Derived",
                method=_DY_METHOD.format(dtc=f"{prefix}STDTC"),
            ),
            _v(
                f"{prefix}ENDY",
                "Study Day of End of " + _NOUN[prefix],
                "integer",
                8,
                "Perm",
                "Derived",
                method=_DY_METHOD.format(dtc=f"{prefix}ENDTC"),
            ),
        )
    return (
        _v(f"{prefix}DTC", "Date/Time of " + _NOUN[prefix], kind, size, "Exp", "Collected"),
        _v(
            f"{prefix}DY",
            "Study Day of " + _NOUN[prefix],
            "integer",
            8,
            "Perm",
            "Derived",
            method=_DY_METHOD.format(dtc=f"{prefix}DTC"),
        ),
    )


_NOUN = {
    "EX": "Treatment",
    "EC": "Treatment",
    "AE": "Adverse Event",
    "LB": "Specimen Collection",
    "VS": "Measurements",
    "RP": "Collection",
    "IE": "Collection",
    "PR": "Procedure",
    "SV": "Visit",
    "SE": "Element",
    "DS": "Disposition Event",
}


def _epoch() -> Variable:
    return _v(
        "EPOCH", "Epoch", "text", 9, "Perm", "Derived", codelist="EPOCH", method=_EPOCH_METHOD
    )


def _visit(planned: bool = True) -> tuple[Variable, ...]:
    return (
        _v(
            "VISITNUM",
            "Visit Number",
            "integer",
            8,
            "Exp",
            "Derived",
            method="The visit's place in the schedule (TV): 1 screening, 2 randomization, "
            "3 embryo transfer, 4 biochemical pregnancy (ET+14), 5 clinical pregnancy (ET+21).",
        ),
        _v("VISIT", "Visit Name", "text", 40, "Perm", "Derived", method="The visit's name in TV."),
    )


_TREATMENT_NAME = "TACROLIMUS"

DM = Dataset(
    "DM",
    "Demographics",
    "SPECIAL PURPOSE",
    "One record per subject",
    (
        *_identifiers("DM"),
        _v("SUBJID", "Subject Identifier for the Study", "text", 16, "Req", "Assigned"),
        _v(
            "RFSTDTC",
            "Subject Reference Start Date/Time",
            "datetime",
            16,
            "Exp",
            "Derived",
            method="The first intake taken in the dose diary (date, and time when recorded).",
        ),
        _v(
            "RFENDTC",
            "Subject Reference End Date/Time",
            "datetime",
            16,
            "Exp",
            "Derived",
            method="The last intake taken in the dose diary (date, and time when recorded).",
        ),
        _v(
            "RFXSTDTC",
            "Date/Time of First Study Treatment",
            "datetime",
            16,
            "Exp",
            "Derived",
            method="The first intake taken in the dose diary.",
        ),
        _v(
            "RFXENDTC",
            "Date/Time of Last Study Treatment",
            "datetime",
            16,
            "Exp",
            "Derived",
            method="The last intake taken in the dose diary.",
        ),
        _v("RFICDTC", "Date/Time of Informed Consent", "date", 10, "Exp", "Collected"),
        _v(
            "RFPENDTC",
            "Date/Time of End of Participation",
            "date",
            10,
            "Exp",
            "Derived",
            method="The latest date recorded for the subject: screening, consent, doses, "
            "visits, endpoint assessments, laboratory results, adverse events, withdrawal.",
        ),
        _v(
            "DTHDTC",
            "Date/Time of Death",
            "date",
            10,
            "Exp",
            "Derived",
            method="The end date (else the onset) of an adverse event with a fatal outcome.",
        ),
        _v(
            "DTHFL",
            "Subject Death Flag",
            "text",
            1,
            "Exp",
            "Derived",
            codelist="NY",
            method="Y when an adverse event has a fatal outcome; empty otherwise.",
        ),
        _v("SITEID", "Study Site Identifier", "text", 8, "Req", "Assigned"),
        _v(
            "AGE",
            "Age",
            "integer",
            8,
            "Exp",
            "Derived",
            method="Completed years from the date of birth to consent (to screening when "
            "she did not consent).",
        ),
        _v("AGEU", "Age Units", "text", 5, "Exp", "Assigned", codelist="AGEU"),
        _v(
            "SEX",
            "Sex",
            "text",
            1,
            "Req",
            "Protocol",
            codelist="SEX",
            comment="The protocol enrolls women only.",
        ),
        _v(
            "RACE",
            "Race",
            "text",
            40,
            "Exp",
            "Assigned",
            comment="Not collected by the protocol; empty.",
        ),
        _v(
            "ARMCD",
            "Planned Arm Code",
            "text",
            20,
            "Req",
            "Assigned",
            comment="The arm of her randomization slot; empty when ARMNRS says why.",
        ),
        _v("ARM", "Description of Planned Arm", "text", 40, "Req", "Assigned"),
        _v(
            "ACTARMCD",
            "Actual Arm Code",
            "text",
            20,
            "Req",
            "Derived",
            method="ARMCD when she took at least one intake (every intake of an arm is its "
            "dose); empty otherwise.",
        ),
        _v(
            "ACTARM",
            "Description of Actual Arm",
            "text",
            40,
            "Req",
            "Derived",
            method="ARM when ACTARMCD is given.",
        ),
        _v(
            "ARMNRS",
            "Reason Arm and/or Actual Arm is Null",
            "text",
            25,
            "Exp",
            "Derived",
            codelist="ARMNRS",
            method="SCREEN FAILURE, NOT ASSIGNED (not randomized), ASSIGNED, NOT TREATED "
            "(no intake taken), or ARM CONCEALED when the export's recipient may not see "
            "the allocation.",
        ),
        _v("COUNTRY", "Country", "text", 3, "Req", "Assigned", codelist="COUNTRY"),
    ),
)

DS = Dataset(
    "DS",
    "Disposition",
    "EVENTS",
    "One record per disposition status or protocol milestone per subject",
    (
        *_identifiers(
            "DS",
            "DSSEQ",
            "DSSTDTC, then consent, randomization, screen failure, completion, withdrawal",
        ),
        _v(
            "DSTERM",
            "Reported Term for the Disposition Event",
            "text",
            200,
            "Req",
            "Collected",
            comment="The withdrawal's reason as written; the milestone's name otherwise.",
        ),
        _v(
            "DSDECOD",
            "Standardized Disposition Term",
            "text",
            30,
            "Req",
            "Derived",
            codelist="DSDECOD",
            method="Consent: INFORMED CONSENT OBTAINED; randomization (status log): "
            "RANDOMIZED; screen failure and completion (status log); withdrawal: by who "
            "decided it (participant: WITHDRAWAL BY SUBJECT, investigator: PHYSICIAN "
            "DECISION, sponsor: OTHER).",
        ),
        _v(
            "DSCAT",
            "Category for Disposition Event",
            "text",
            20,
            "Exp",
            "Assigned",
            codelist="DSCAT",
        ),
        _epoch(),
        _v("DSSTDTC", "Start Date/Time of Disposition Event", "date", 10, "Exp", "Collected"),
        _v(
            "DSSTDY",
            "Study Day of Start of Disposition Event",
            "integer",
            8,
            "Perm",
            "Derived",
            method=_DY_METHOD.format(dtc="DSSTDTC"),
        ),
    ),
)

IE = Dataset(
    "IE",
    "Inclusion/Exclusion Criteria Not Met",
    "FINDINGS",
    "One record per inclusion/exclusion criterion not met per subject",
    (
        *_identifiers("IE", "IESEQ", "IETESTCD"),
        _v(
            "IETESTCD",
            "Inclusion/Exclusion Criterion Short Name",
            "text",
            8,
            "Req",
            "Derived",
            codelist="IETESTCD",
            method="The criterion the eligibility form found not met.",
        ),
        _v(
            "IETEST",
            "Inclusion/Exclusion Criterion",
            "text",
            200,
            "Req",
            "Derived",
            codelist="IETEST",
            method="The criterion's text in the protocol (TI).",
        ),
        _v(
            "IECAT",
            "Inclusion/Exclusion Category",
            "text",
            9,
            "Req",
            "Derived",
            codelist="IECAT",
            method="The criterion's category in TI.",
        ),
        _v(
            "IEORRES",
            "I/E Criterion Original Result",
            "text",
            1,
            "Req",
            "Derived",
            codelist="NY",
            method="N for an inclusion criterion not met, Y for an exclusion criterion met.",
        ),
        _v(
            "IESTRESC",
            "I/E Criterion Result in Std Format",
            "text",
            1,
            "Req",
            "Derived",
            codelist="NY",
            method="IEORRES.",
        ),
        _visit()[0],
        _visit()[1],
        _epoch(),
        _v(
            "IEDTC",
            "Date/Time of Collection",
            "date",
            10,
            "Perm",
            "Derived",
            method="The date the eligibility form was last saved (study time zone).",
        ),
        _v(
            "IEDY",
            "Study Day of Collection",
            "integer",
            8,
            "Perm",
            "Derived",
            method=_DY_METHOD.format(dtc="IEDTC"),
        ),
    ),
)

_DOSE_VARIABLES = (
    _v("{p}DOSU", "Dose Units", "text", 2, "Exp", "Assigned", codelist="UNIT"),
    _v("{p}DOSFRM", "Dose Form", "text", 7, "Exp", "Assigned", codelist="FRM"),
    _v(
        "{p}DOSFRQ",
        "Dosing Frequency per Interval",
        "text",
        4,
        "Perm",
        "Assigned",
        codelist="FREQ",
        comment="Each record is one intake (the protocol gives two a day, BID).",
    ),
    _v("{p}ROUTE", "Route of Administration", "text", 4, "Perm", "Assigned", codelist="ROUTE"),
    _v("{p}TPT", "Planned Time Point Name", "text", 7, "Perm", "Collected", codelist="TPT"),
)


def _prefixed(prefix: str, variables: tuple[Variable, ...]) -> tuple[Variable, ...]:
    return tuple(
        Variable(
            v.name.format(p=prefix),
            v.label,
            v.data_type,
            v.length,
            v.core,
            v.origin,
            v.codelist,
            v.method,
            v.comment,
            v.key,
        )
        for v in variables
    )


EX = Dataset(
    "EX",
    "Exposure",
    "INTERVENTIONS",
    "One record per intake taken per subject",
    (
        *_identifiers("EX", "EXSEQ", "the intakes (date, morning before evening)"),
        _v("EXTRT", "Name of Treatment", "text", 10, "Req", "Assigned"),
        _v(
            "EXDOSE",
            "Dose",
            "float",
            8,
            "Exp",
            "Collected",
            comment="Empty for a recipient the study blinds: the dose of an intake tells the arm.",
        ),
        *_prefixed("EX", _DOSE_VARIABLES),
        _epoch(),
        *_timing("EX", end=True, time=True),
    ),
)

EC = Dataset(
    "EC",
    "Exposure as Collected",
    "INTERVENTIONS",
    "One record per dose diary entry (intake taken or missed) per subject",
    (
        *_identifiers("EC", "ECSEQ", "the diary's entries (date, morning before evening)"),
        _v("ECTRT", "Name of Treatment", "text", 10, "Req", "Assigned"),
        _v("ECMOOD", "Mood", "text", 9, "Perm", "Assigned", codelist="MOOD"),
        _v("ECPRESP", "Pre-Specified", "text", 1, "Perm", "Assigned", codelist="NY"),
        _v("ECOCCUR", "Occurrence", "text", 1, "Perm", "Collected", codelist="NY"),
        _v("ECREASOC", "Reason for Occur Value", "text", 200, "Perm", "Collected"),
        _v(
            "ECDOSE",
            "Dose",
            "float",
            8,
            "Exp",
            "Collected",
            comment="Empty for an intake not taken, and for a recipient the study blinds.",
        ),
        *_prefixed("EC", _DOSE_VARIABLES),
        _epoch(),
        *_timing("EC", end=True, time=True),
    ),
)

AE = Dataset(
    "AE",
    "Adverse Events",
    "EVENTS",
    "One record per adverse event per subject",
    (
        *_identifiers("AE", "AESEQ", "onset, then entry"),
        _v("AETERM", "Reported Term for the Adverse Event", "text", 200, "Req", "Collected"),
        _v(
            "AEDECOD",
            "Dictionary-Derived Term",
            "text",
            200,
            "Req",
            "Assigned",
            comment="The reported CTCAE v5.0 term; the eCRF does not code with MedDRA.",
        ),
        _v(
            "AEBODSYS",
            "Body System or Organ Class",
            "text",
            100,
            "Exp",
            "Assigned",
            comment="Empty: the eCRF does not code with MedDRA.",
        ),
        _v("AESER", "Serious Event", "text", 1, "Exp", "Collected", codelist="NY"),
        _v(
            "AEACN",
            "Action Taken with Study Treatment",
            "text",
            20,
            "Exp",
            "Collected",
            codelist="ACN",
        ),
        _v("AEREL", "Causality", "text", 1, "Exp", "Collected", codelist="NY"),
        _v("AEOUT", "Outcome of Adverse Event", "text", 32, "Perm", "Collected", codelist="OUT"),
        *(
            _v(
                flag,
                label,
                "text",
                1,
                "Perm",
                "Collected",
                codelist="NY",
                comment="Y or N for a serious event; empty for a non-serious one.",
            )
            for flag, label in (
                ("AESCONG", "Congenital Anomaly or Birth Defect"),
                ("AESDISAB", "Persist or Signif Disability/Incapacity"),
                ("AESDTH", "Results in Death"),
                ("AESHOSP", "Requires or Prolongs Hospitalization"),
                ("AESLIFE", "Is Life Threatening"),
                ("AESMIE", "Other Medically Important Serious Event"),
            )
        ),
        _v("AETOXGR", "Standard Toxicity Grade", "text", 1, "Exp", "Collected", codelist="TOXGR"),
        _epoch(),
        *_timing("AE", end=True),
    ),
)


def _findings(prefix: str, testcd_list: str, test_list: str, *, lab: bool) -> tuple[Variable, ...]:
    ranges = (
        (
            _v(
                "LBORNRLO",
                "Reference Range Lower Limit in Orig Unit",
                "text",
                20,
                "Exp",
                "Collected",
            ),
            _v(
                "LBORNRHI",
                "Reference Range Upper Limit in Orig Unit",
                "text",
                20,
                "Exp",
                "Collected",
            ),
        )
        if lab
        else ()
    )
    std_ranges = (
        (
            _v(
                "LBSTNRLO",
                "Reference Range Lower Limit-Std Units",
                "float",
                8,
                "Exp",
                "Derived",
                method="LBORNRLO as a number.",
            ),
            _v(
                "LBSTNRHI",
                "Reference Range Upper Limit-Std Units",
                "float",
                8,
                "Exp",
                "Derived",
                method="LBORNRHI as a number.",
            ),
            _v(
                "LBNRIND",
                "Reference Range Indicator",
                "text",
                6,
                "Exp",
                "Derived",
                codelist="NRIND",
                method="LOW below LBORNRLO, HIGH above LBORNRHI, NORMAL otherwise; empty with "
                "no range (serum hCG).",
            ),
        )
        if lab
        else ()
    )
    return (
        _v(
            f"{prefix}TESTCD",
            _TESTS[prefix][0],
            "text",
            8,
            "Req",
            "Collected",
            codelist=testcd_list,
        ),
        _v(
            f"{prefix}TEST",
            _TESTS[prefix][1],
            "text",
            40,
            "Req",
            "Derived",
            codelist=test_list,
            method=f"The name of {prefix}TESTCD.",
        ),
        *(
            (
                _v(
                    "LBCAT",
                    "Category for Lab Test",
                    "text",
                    20,
                    "Exp",
                    "Assigned",
                    comment="CHEMISTRY for the safety labs, PREGNANCY TEST for serum hCG.",
                ),
            )
            if lab
            else ()
        ),
        _v(f"{prefix}ORRES", "Result or Finding in Original Units", "text", 20, "Exp", "Collected"),
        _v(f"{prefix}ORRESU", "Original Units", "text", 10, "Exp", "Collected", codelist="UNIT"),
        *ranges,
        _v(
            f"{prefix}STRESC",
            "Character Result/Finding in Std Format",
            "text",
            20,
            "Exp",
            "Derived",
            method=f"{prefix}ORRES (the sites report in the standard units).",
        ),
        _v(
            f"{prefix}STRESN",
            "Numeric Result/Finding in Standard Units",
            "float",
            8,
            "Exp",
            "Derived",
            method=f"{prefix}STRESC as a number.",
        ),
        _v(
            f"{prefix}STRESU",
            "Standard Units",
            "text",
            10,
            "Exp",
            "Derived",
            codelist="UNIT",
            method=f"{prefix}ORRESU.",
        ),
        *std_ranges,
        *(
            (_v("LBSPEC", "Specimen Type", "text", 5, "Perm", "Assigned", codelist="SPECTYPE"),)
            if lab
            else ()
        ),
        _v(
            f"{prefix}LOBXFL",
            "Last Observation Before Exposure Flag",
            "text",
            1,
            "Exp",
            "Derived",
            codelist="NY",
            method="Y on the last result of each test dated before the first dose.",
        ),
        *_visit(),
        _epoch(),
        *_timing(prefix),
    )


_TESTS = {
    "LB": ("Lab Test or Examination Short Name", "Lab Test or Examination Name"),
    "VS": ("Vital Signs Test Short Name", "Vital Signs Test Name"),
}

LB = Dataset(
    "LB",
    "Laboratory Test Results",
    "FINDINGS",
    "One record per lab test per visit per subject",
    (
        *_identifiers("LB", "LBSEQ", "date, then test code"),
        *_findings("LB", "LBTESTCD", "LBTEST", lab=True),
    ),
)

VS = Dataset(
    "VS",
    "Vital Signs",
    "FINDINGS",
    "One record per vital sign measurement per visit per subject",
    (
        *_identifiers("VS", "VSSEQ", "date, then test code"),
        *_findings("VS", "VSTESTCD", "VSTEST", lab=False),
    ),
)

RP = Dataset(
    "RP",
    "Reproductive System Findings",
    "FINDINGS",
    "One record per finding per visit per subject",
    (
        *_identifiers("RP", "RPSEQ", "date, then the order of the endpoint forms"),
        _v(
            "RPTESTCD",
            "Reproductive Test Short Name",
            "text",
            8,
            "Req",
            "Assigned",
            codelist="RPTESTCD",
            comment="The code of the endpoint form's field (README).",
        ),
        _v(
            "RPTEST",
            "Reproductive Test Name",
            "text",
            40,
            "Req",
            "Derived",
            codelist="RPTEST",
            method="The name of RPTESTCD.",
        ),
        _v("RPORRES", "Result or Finding in Original Units", "text", 8, "Exp", "Collected"),
        _v(
            "RPSTRESC",
            "Character Result/Finding in Std Format",
            "text",
            8,
            "Exp",
            "Derived",
            method="RPORRES: Y or N for a finding seen or not, POSITIVE or NEGATIVE for a "
            "pregnancy, the count for the number of sacs.",
        ),
        _v(
            "RPSTRESN",
            "Numeric Result/Finding in Standard Units",
            "float",
            8,
            "Exp",
            "Derived",
            method="RPSTRESC as a number, for the number of sacs.",
        ),
        _v(
            "RPMETHOD",
            "Method of Test or Examination",
            "text",
            10,
            "Perm",
            "Collected",
            codelist="METHOD",
            comment="ULTRASOUND for the clinical pregnancy's findings "
            "when the transvaginal ultrasound was done.",
        ),
        *_visit(),
        _epoch(),
        *_timing("RP"),
    ),
)

PR = Dataset(
    "PR",
    "Procedures",
    "INTERVENTIONS",
    "One record per procedure per subject",
    (
        *_identifiers("PR", "PRSEQ", "date"),
        _v("PRTRT", "Reported Name of Procedure", "text", 15, "Req", "Assigned", codelist="PRTRT"),
        _v("PRPRESP", "Pre-Specified", "text", 1, "Perm", "Assigned", codelist="NY"),
        _v("PROCCUR", "Occurrence", "text", 1, "Perm", "Collected", codelist="NY"),
        *_visit(),
        _epoch(),
        _v("PRSTDTC", "Start Date/Time of Procedure", "date", 10, "Exp", "Collected"),
        _v(
            "PRSTDY",
            "Study Day of Start of Procedure",
            "integer",
            8,
            "Perm",
            "Derived",
            method=_DY_METHOD.format(dtc="PRSTDTC"),
        ),
    ),
)


def supplemental(
    domain: str,
    *,
    record: str,
    qval_length: int = 40,
    qval_origin: Origin = "Collected",
    qval_method: str = "",
) -> Dataset:
    """The supplemental qualifiers of ``domain`` (SUPP--), each naming its parent record
    by ``IDVAR``/``IDVARVAL`` (``record`` says which)."""
    return Dataset(
        f"SUPP{domain}",
        f"Supplemental Qualifiers for {domain}",
        "RELATIONSHIP",
        "One record per supplemental qualifier per parent record",
        (
            _v("STUDYID", "Study Identifier", "text", 20, "Req", "Assigned", key=1),
            _v("RDOMAIN", "Related Domain Abbreviation", "text", 2, "Req", "Assigned", key=2),
            _v(
                "USUBJID",
                "Unique Subject Identifier",
                "text",
                30,
                "Req",
                "Derived",
                key=3,
                method=f"As in {domain}.",
            ),
            _v("IDVAR", "Identifying Variable", "text", 8, "Exp", "Assigned", key=4),
            _v(
                "IDVARVAL",
                "Identifying Variable Value",
                "text",
                8,
                "Exp",
                "Derived",
                key=5,
                method=f"The {record} of the parent record.",
            ),
            _v(
                "QNAM",
                "Qualifier Variable Name",
                "text",
                8,
                "Req",
                "Assigned",
                codelist=f"QNAM_{domain}",
                key=6,
            ),
            _v("QLABEL", "Qualifier Variable Label", "text", 40, "Req", "Assigned"),
            _v(
                "QVAL",
                "Data Value",
                "text",
                qval_length,
                "Req",
                qval_origin,
                method=qval_method,
            ),
            _v("QORIG", "Origin", "text", 9, "Req", "Assigned"),
            _v(
                "QEVAL",
                "Evaluator",
                "text",
                12,
                "Exp",
                "Assigned",
                comment="Empty: collected values, not evaluations.",
            ),
        ),
    )


SUPPPR = supplemental("PR", record="PRSEQ (the transfer)")

#: Where SAS transport's 200 bytes end, the rest of a text goes (SDTMIG 4.5.3.2).
OVERFLOW_METHOD = (
    "The text of the parent variable beyond its first 200 bytes (UTF-8), in parts of at "
    "most 200 bytes cut between characters, in order: QNAM is the variable's name (at "
    "most 7 characters) and the part's number, from 1. Concatenate the parent value and "
    "the parts to restore the text."
)


SV = Dataset(
    "SV",
    "Subject Visits",
    "SPECIAL PURPOSE",
    "One record per visit per subject",
    (
        *_identifiers("SV"),
        _v(
            "VISITNUM",
            "Visit Number",
            "integer",
            8,
            "Req",
            "Derived",
            key=3,
            method="The visit's place in the schedule (TV).",
        ),
        _v("VISIT", "Visit Name", "text", 40, "Exp", "Derived", method="The visit's name in TV."),
        _v("SVPRESP", "Pre-Specified", "text", 1, "Perm", "Assigned", codelist="NY"),
        _v("SVOCCUR", "Occurrence", "text", 1, "Perm", "Collected", codelist="NY"),
        _v("SVREASOC", "Reason for Occur Value", "text", 200, "Perm", "Collected"),
        _v(
            "VISITDY",
            "Planned Study Day of Visit",
            "integer",
            8,
            "Perm",
            "Derived",
            method="The visit's target day after the embryo transfer (TV), counted from the "
            "first dose (study setting: dosing starts two days before the transfer).",
        ),
        _epoch(),
        *_timing("SV", end=True),
    ),
)

SE = Dataset(
    "SE",
    "Subject Elements",
    "SPECIAL PURPOSE",
    "One record per actual Element per subject",
    (
        *_identifiers("SE", "SESEQ", "the elements as she passed through them"),
        _v(
            "ETCD",
            "Element Code",
            "text",
            8,
            "Req",
            "Derived",
            codelist="ETCD",
            method="SCRN from screening, her arm's treatment element from the first dose, FU "
            "after the last dose (UNPLAN when the arm is concealed from the recipient).",
        ),
        _v(
            "ELEMENT",
            "Description of Element",
            "text",
            40,
            "Perm",
            "Derived",
            method="The element's name in TE.",
        ),
        _v(
            "TAETORD",
            "Planned Order of Element within Arm",
            "integer",
            8,
            "Exp",
            "Derived",
            method="The element's order in TA.",
        ),
        _epoch(),
        _v(
            "SESTDTC",
            "Start Date/Time of Element",
            "datetime",
            16,
            "Req",
            "Derived",
            method="Screening: the screening date; treatment: the first dose; follow-up: the "
            "last dose.",
        ),
        _v(
            "SEENDTC",
            "End Date/Time of Element",
            "datetime",
            16,
            "Exp",
            "Derived",
            method="The start of the next element; the last element ends at RFPENDTC.",
        ),
        _v(
            "SESTDY",
            "Study Day of Start of Element",
            "integer",
            8,
            "Perm",
            "Derived",
            method=_DY_METHOD.format(dtc="SESTDTC"),
        ),
        _v(
            "SEENDY",
            "Study Day of End of Element",
            "integer",
            8,
            "Perm",
            "Derived",
            method=_DY_METHOD.format(dtc="SEENDTC"),
        ),
        _v(
            "SEUPDES",
            "Description of Unplanned Element",
            "text",
            100,
            "Perm",
            "Derived",
            method="Why an element is UNPLAN: the arm is concealed from the recipient.",
        ),
    ),
)

TA = Dataset(
    "TA",
    "Trial Arms",
    "TRIAL DESIGN",
    "One record per planned Element per Arm",
    (
        *_study_identifiers(),
        _v("ARMCD", "Planned Arm Code", "text", 20, "Req", "Protocol", key=2),
        _v("ARM", "Description of Planned Arm", "text", 40, "Req", "Protocol"),
        _v(
            "TAETORD", "Planned Order of Element within Arm", "integer", 8, "Req", "Protocol", key=3
        ),
        _v("ETCD", "Element Code", "text", 8, "Req", "Protocol", codelist="ETCD"),
        _v("ELEMENT", "Description of Element", "text", 40, "Perm", "Protocol"),
        _v("TABRANCH", "Branch", "text", 40, "Exp", "Protocol"),
        _v("TATRANS", "Transition Rule", "text", 40, "Exp", "Protocol"),
        _v("EPOCH", "Epoch", "text", 9, "Req", "Protocol", codelist="EPOCH"),
    ),
    reference_data=True,
)

TE = Dataset(
    "TE",
    "Trial Elements",
    "TRIAL DESIGN",
    "One record per planned Element",
    (
        *_study_identifiers(),
        _v("ETCD", "Element Code", "text", 8, "Req", "Protocol", codelist="ETCD", key=2),
        _v("ELEMENT", "Description of Element", "text", 40, "Req", "Protocol"),
        _v("TESTRL", "Rule for Start of Element", "text", 100, "Req", "Protocol"),
        _v("TEENRL", "Rule for End of Element", "text", 100, "Perm", "Protocol"),
        _v("TEDUR", "Planned Duration of Element", "text", 10, "Perm", "Protocol"),
    ),
    reference_data=True,
)

TV = Dataset(
    "TV",
    "Trial Visits",
    "TRIAL DESIGN",
    "One record per planned Visit per Arm",
    (
        *_study_identifiers(),
        _v("VISITNUM", "Visit Number", "integer", 8, "Req", "Protocol", key=2),
        _v("VISIT", "Visit Name", "text", 40, "Perm", "Protocol"),
        _v("VISITDY", "Planned Study Day of Visit", "integer", 8, "Perm", "Protocol"),
        _v(
            "ARMCD",
            "Planned Arm Code",
            "text",
            20,
            "Exp",
            "Protocol",
            comment="Empty: every arm has the same visits.",
        ),
        _v("TVSTRL", "Visit Start Rule", "text", 100, "Req", "Protocol"),
        _v("TVENRL", "Visit End Rule", "text", 100, "Perm", "Protocol"),
    ),
    reference_data=True,
)

TI = Dataset(
    "TI",
    "Trial Inclusion/Exclusion Criteria",
    "TRIAL DESIGN",
    "One record per I/E criterion",
    (
        *_study_identifiers(),
        _v(
            "IETESTCD",
            "Incl/Excl Criterion Short Name",
            "text",
            8,
            "Req",
            "Protocol",
            codelist="IETESTCD",
            key=2,
        ),
        _v(
            "IETEST",
            "Inclusion/Exclusion Criterion",
            "text",
            200,
            "Req",
            "Protocol",
            codelist="IETEST",
        ),
        _v("IECAT", "Inclusion/Exclusion Category", "text", 9, "Req", "Protocol", codelist="IECAT"),
        _v("TIVERS", "Protocol Criteria Versions", "text", 10, "Perm", "Protocol"),
    ),
    reference_data=True,
)

TS = Dataset(
    "TS",
    "Trial Summary",
    "TRIAL DESIGN",
    "One record per trial summary parameter value",
    (
        *_study_identifiers(),
        _v("TSSEQ", "Sequence Number", "integer", 8, "Req", "Assigned", key=3),
        _v(
            "TSPARMCD",
            "Trial Summary Parameter Short Name",
            "text",
            8,
            "Req",
            "Protocol",
            codelist="TSPARMCD",
            key=2,
        ),
        _v("TSPARM", "Trial Summary Parameter", "text", 40, "Req", "Protocol", codelist="TSPARM"),
        _v("TSVAL", "Parameter Value", "text", 200, "Exp", "Protocol"),
    ),
    reference_data=True,
)

#: The datasets that name the arms and their doses: left out for a recipient the study
#: blinds.
ARM_DESIGN_DATASETS = frozenset({"TA", "TE"})

#: The datasets of the package, in the order define.xml lists them.
DATASETS: tuple[Dataset, ...] = (
    TA,
    TE,
    TV,
    TI,
    TS,
    DM,
    SE,
    SV,
    EX,
    EC,
    PR,
    AE,
    DS,
    IE,
    LB,
    VS,
    RP,
    SUPPPR,
)

#: Trial summary parameters: code, name, and the codelist of the value, if any.
TS_PARAMETERS: tuple[tuple[str, str, str], ...] = (
    ("TITLE", "Trial Title", ""),
    ("REGID", "Registry Identifier", ""),
    ("STYPE", "Study Type", "STYPE"),
    ("RANDOM", "Trial is Randomized", "NY"),
    ("TBLIND", "Trial Blinding Schema", "TBLIND"),
    ("NARMS", "Planned Number of Arms", ""),
    ("PLANSUB", "Planned Number of Subjects", ""),
    ("SEXPOP", "Sex of Participants", "SEXPOP"),
    ("AGEMIN", "Planned Minimum Age of Subjects", ""),
    ("AGEMAX", "Planned Maximum Age of Subjects", ""),
    ("TRT", "Investigational Therapy or Treatment", ""),
    ("ROUTE", "Route of Administration", "ROUTE"),
    ("DOSFRQ", "Dosing Frequency", "FREQ"),
    ("DOSU", "Dose Units", "UNIT"),
    ("INDIC", "Trial Disease/Condition Indication", ""),
    ("OUTMSPRI", "Primary Outcome Measure", ""),
    ("OUTMSSEC", "Secondary Outcome Measure", ""),
    ("SDTIGVER", "SDTM IG Version", ""),
    ("SDTMVER", "SDTM Version", ""),
    ("SSTDTC", "Study Start Date", ""),
)


def dataset(name: str) -> Dataset:
    """The dataset with this name (``KeyError`` for an unknown one)."""
    for entry in DATASETS:
        if entry.name == name:
            return entry
    raise KeyError(name)
