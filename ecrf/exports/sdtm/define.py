"""define.xml (Define-XML 2.1) of the SDTM package, written from :mod:`.spec`.

Datasets, variables (labels of at most 40 characters, lengths), codelists with the CT
version, origins (Collected with the form it is entered on, Derived with its method,
Assigned, Protocol), value-level metadata of the LB, VS and RP results by test code,
methods and comments. The item OIDs are those the Dataset-JSON files name.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.utils import translation
from lxml import etree

from ecrf.common import catalogue

from . import spec

ODM_NS = "http://www.cdisc.org/ns/odm/v1.3"
DEF_NS = "http://www.cdisc.org/ns/def/v2.1"
XLINK_NS = "http://www.w3.org/1999/xlink"
XML_NS = "http://www.w3.org/XML/1998/namespace"
NSMAP = {None: ODM_NS, "def": DEF_NS, "xlink": XLINK_NS}

METADATA_VERSION_OID = "MDV.SDTM"
STANDARD_IG = "STD.SDTMIG"
STANDARD_CT = "STD.CT"


def item_oid(dataset: str, variable: str) -> str:
    return f"IT.{dataset}.{variable}"


def group_oid(dataset: str) -> str:
    return f"IG.{dataset}"


@dataclass(frozen=True)
class StudyMetadata:
    """Who and what the define.xml describes."""

    study_oid: str
    study_name: str
    description: str
    protocol_name: str
    created: dt.datetime
    source_system: str
    source_system_version: str
    file_extension: str


#: Value-level metadata: the result variable described per test code.
VALUE_LEVEL: dict[str, tuple[str, str]] = {
    "LB": ("LBORRES", "LBTESTCD"),
    "VS": ("VSORRES", "VSTESTCD"),
    "RP": ("RPORRES", "RPTESTCD"),
}


def _value_level_tests(dataset: str) -> list[tuple[str, str, str, str]]:
    """(test code, test name, data type, codelist) of each test a result is given for."""
    if dataset == "RP":
        kinds = {"GSACNUM": ("integer", ""), "BIOPREG": ("text", "RESULT")}
        kinds["CLINPREG"] = ("text", "RESULT")
        return [
            (code, name, *kinds.get(code, ("text", "NY")))
            for code, name, _field in spec.REPRODUCTIVE_TESTS
        ]
    tests = [
        (code, name, "float", "")
        for code, name, domain in spec.ANALYTES.values()
        if domain == dataset
    ]
    if dataset == "LB":
        tests.append((*spec.HCG, "float", ""))
    return tests


def _el(parent: etree._Element, tag: str, ns: str = ODM_NS, **attrs: str) -> etree._Element:
    return etree.SubElement(parent, f"{{{ns}}}{tag}", {k: v for k, v in attrs.items() if v})


def _description(parent: etree._Element, text: str) -> None:
    holder = _el(parent, "Description")
    translated = _el(holder, "TranslatedText")
    translated.set(f"{{{XML_NS}}}lang", "en")
    translated.text = text


def _decode(parent: etree._Element, text: str) -> None:
    holder = _el(parent, "Decode")
    translated = _el(holder, "TranslatedText")
    translated.set(f"{{{XML_NS}}}lang", "en")
    translated.text = text


def collected_on(dataset: str, variable: str) -> str:
    """Which forms' fields the catalogue says are collected into the variable, in words."""
    with translation.override("en"):
        sources = catalogue.sdtm_sources(f"{dataset}.{variable}")
        return "; ".join(
            f"{form.label} form, {form.model_field(field.name).verbose_name} "
            f"({form.code}.{field.name})"
            for form, field in sources
        )


def _origin(parent: etree._Element, dataset: str, variable: spec.Variable) -> None:
    source = "Investigator" if variable.origin == "Collected" else "Sponsor"
    origin = _el(parent, "Origin", DEF_NS, Type=variable.origin, Source=source)
    if variable.origin == "Collected":
        where = collected_on(dataset, variable.name)
        if where:
            _description(origin, f"Entered on the eCRF: {where}.")


def _data_type(variable: spec.Variable) -> str:
    return variable.data_type


def _length(variable: spec.Variable) -> str:
    if variable.data_type in {"date", "datetime"}:
        return ""
    return str(variable.length or 1)


def write_define(
    *,
    metadata: StudyMetadata,
    codelists: dict[str, spec.CodeList],
    datasets: Iterable[spec.Dataset] = spec.DATASETS,
) -> bytes:
    """The define.xml of ``datasets`` as bytes (UTF-8, with its XML declaration)."""
    datasets = list(datasets)
    root = etree.Element(
        f"{{{ODM_NS}}}ODM",
        {
            "FileType": "Snapshot",
            "FileOID": f"DEFINE.{metadata.study_oid}",
            "CreationDateTime": metadata.created.isoformat(timespec="seconds"),
            "ODMVersion": "1.3.2",
            "Originator": metadata.source_system,
            "SourceSystem": metadata.source_system,
            "SourceSystemVersion": metadata.source_system_version,
            f"{{{DEF_NS}}}Context": "Submission",
        },
        nsmap=NSMAP,
    )
    study = _el(root, "Study", OID=metadata.study_oid)
    global_variables = _el(study, "GlobalVariables")
    _el(global_variables, "StudyName").text = metadata.study_name
    _el(global_variables, "StudyDescription").text = metadata.description
    _el(global_variables, "ProtocolName").text = metadata.protocol_name
    version = _el(
        study,
        "MetaDataVersion",
        OID=METADATA_VERSION_OID,
        Name=f"SDTM of {metadata.study_name}",
        Description=f"SDTMIG {spec.SDTMIG_VERSION} datasets of {metadata.study_name}",
    )
    version.set(f"{{{DEF_NS}}}DefineVersion", "2.1.0")
    standards = _el(version, "Standards", DEF_NS)
    _el(
        standards,
        "Standard",
        DEF_NS,
        OID=STANDARD_IG,
        Name="SDTMIG",
        Type="IG",
        Version=spec.SDTMIG_VERSION,
        Status="Final",
    )
    _el(
        standards,
        "Standard",
        DEF_NS,
        OID=STANDARD_CT,
        Name="CDISC/NCI",
        Type="CT",
        PublishingSet="SDTM",
        Version=spec.CT_VERSION,
        Status="Final",
    )

    names = {d.name for d in datasets}
    value_lists = {k: v for k, v in VALUE_LEVEL.items() if k in names}
    for dataset_name, (result, testcd) in value_lists.items():
        value_list = _el(version, "ValueListDef", DEF_NS, OID=f"VL.{dataset_name}.{result}")
        for order, (code, _name, _type, _cl) in enumerate(_value_level_tests(dataset_name), 1):
            ref = _el(
                value_list,
                "ItemRef",
                ItemOID=f"{item_oid(dataset_name, result)}.{code}",
                OrderNumber=str(order),
                Mandatory="No",
            )
            _el(ref, "WhereClauseRef", DEF_NS, WhereClauseOID=f"WC.{dataset_name}.{testcd}.{code}")
    for dataset_name, (_result, testcd) in value_lists.items():
        for code, _name, _type, _cl in _value_level_tests(dataset_name):
            clause = _el(
                version, "WhereClauseDef", DEF_NS, OID=f"WC.{dataset_name}.{testcd}.{code}"
            )
            check = _el(clause, "RangeCheck", SoftHard="Soft", Comparator="EQ")
            check.set(f"{{{DEF_NS}}}ItemOID", item_oid(dataset_name, testcd))
            _el(check, "CheckValue").text = code

    methods: list[tuple[str, str, str]] = []
    comments: list[tuple[str, str]] = []
    for dataset in datasets:
        group = _el(
            version,
            "ItemGroupDef",
            OID=group_oid(dataset.name),
            Name=dataset.name,
            Repeating="No" if dataset.name == "DM" else "Yes",
            IsReferenceData="Yes" if dataset.reference_data else "No",
            SASDatasetName=dataset.name,
            Domain=dataset.name if not dataset.name.startswith("SUPP") else dataset.name[4:],
            Purpose="Tabulation",
        )
        group.set(f"{{{DEF_NS}}}Structure", dataset.structure)
        group.set(f"{{{DEF_NS}}}ArchiveLocationID", f"LF.{dataset.name}")
        group.set(f"{{{DEF_NS}}}StandardOID", STANDARD_IG)
        _description(group, dataset.label)
        for order, variable in enumerate(dataset.variables, 1):
            ref = _el(
                group,
                "ItemRef",
                ItemOID=item_oid(dataset.name, variable.name),
                OrderNumber=str(order),
                Mandatory="Yes" if variable.core == "Req" else "No",
                KeySequence=str(variable.key) if variable.key else "",
            )
            if variable.origin == "Derived" and variable.method:
                oid = f"MT.{dataset.name}.{variable.name}"
                ref.set("MethodOID", oid)
                methods.append(
                    (oid, f"Algorithm for {dataset.name}.{variable.name}", variable.method)
                )
        _el(group, "Class", DEF_NS, Name=dataset.observation_class)
        file_name = f"{dataset.file_stem}{metadata.file_extension}"
        leaf = _el(group, "leaf", DEF_NS, ID=f"LF.{dataset.name}")
        leaf.set(f"{{{XLINK_NS}}}href", file_name)
        _el(leaf, "title", DEF_NS).text = file_name

    for dataset in datasets:
        for variable in dataset.variables:
            item = _el(
                version,
                "ItemDef",
                OID=item_oid(dataset.name, variable.name),
                Name=variable.name,
                DataType=_data_type(variable),
                Length=_length(variable),
                SASFieldName=variable.name,
            )
            if variable.comment:
                oid = f"COM.{dataset.name}.{variable.name}"
                item.set(f"{{{DEF_NS}}}CommentOID", oid)
                comments.append((oid, variable.comment))
            _description(item, variable.label)
            if variable.codelist:
                _el(item, "CodeListRef", CodeListOID=codelists[variable.codelist].oid)
            _origin(item, dataset.name, variable)
            if dataset.name in value_lists and variable.name == value_lists[dataset.name][0]:
                _el(item, "ValueListRef", DEF_NS, ValueListOID=f"VL.{dataset.name}.{variable.name}")
        if dataset.name in value_lists:
            result = value_lists[dataset.name][0]
            for code, name, data_type, codelist in _value_level_tests(dataset.name):
                item = _el(
                    version,
                    "ItemDef",
                    OID=f"{item_oid(dataset.name, result)}.{code}",
                    Name=result,
                    DataType=data_type,
                    Length="8",
                    SASFieldName=result,
                )
                _description(item, f"{name} result")
                if codelist:
                    _el(item, "CodeListRef", CodeListOID=codelists[codelist].oid)
                origin = _el(item, "Origin", DEF_NS, Type="Collected", Source="Investigator")
                where = collected_on(dataset.name, result)
                if where:
                    _description(origin, f"Entered on the eCRF: {where}.")

    used = {v.codelist for d in datasets for v in d.variables if v.codelist}
    used |= {cl for name in value_lists for *_rest, cl in _value_level_tests(name) if cl}
    for name in sorted(used):
        entry = codelists[name]
        element = _el(version, "CodeList", OID=entry.oid, Name=entry.name, DataType=entry.data_type)
        if entry.nci_code:
            element.set(f"{{{DEF_NS}}}StandardOID", STANDARD_CT)
        for order, (code, decode) in enumerate(entry.values, 1):
            item = _el(element, "CodeListItem", CodedValue=code, OrderNumber=str(order))
            if code in entry.extended:
                item.set(f"{{{DEF_NS}}}ExtendedValue", "Yes")
            _decode(item, decode)
        if entry.nci_code:
            _el(element, "Alias", Context="nci:ExtCodeID", Name=entry.nci_code)

    for oid, name, text in methods:
        method = _el(version, "MethodDef", OID=oid, Name=name, Type="Computation")
        _description(method, text)
    for oid, text in comments:
        comment = _el(version, "CommentDef", DEF_NS, OID=oid)
        _description(comment, text)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
