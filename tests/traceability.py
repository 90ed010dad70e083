"""Requirement-to-test traceability: which tests prove which requirement, and how they fared.

Tests declare the requirements they prove with ``@pytest.mark.requirement("ID", ...)``;
the ids live in ``traceability/requirements.yaml``. This plugin

- refuses a marker naming an id that is not a software requirement of that file (a typo,
  or a procedural item that software cannot prove): the run stops with a usage error;
- on a run of the whole suite (the configured testpaths, nothing deselected), fails the
  session when a software requirement has no test, naming each;
- writes ``test-artifacts/validation/results.json``: every test with its outcome, and every
  requirement with its tests and their combined result, with the run's metadata (time,
  git commit, machine, Python, pytest and PostgreSQL versions).

``scripts/validation_report.py`` renders that file as the validation report.

Under pytest-xdist each worker collects the suite and checks the markers; it hands what
it collected to the controller, which sees every test's report and writes the file.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

MARKER = "requirement"
BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_REQUIREMENTS = Path("traceability") / "requirements.yaml"
DEFAULT_RESULTS = Path("test-artifacts") / "validation" / "results.json"
ID_PATTERN = re.compile(r"^[A-Z][A-Z0-9]*(-[A-Z0-9][A-Z0-9.]*)+$")
PROCEDURAL_KINDS = {"procedural", "not_applicable"}
RESULTS_SCHEMA = 1
#: Keys of the output an xdist worker hands to the controller: what it collected, the
#: PostgreSQL it ran on, and why it refused the markers.
WORKER_OUTPUT = "ecrf_traceability"
WORKER_POSTGRESQL = "ecrf_traceability_postgresql"
WORKER_REFUSAL = "ecrf_traceability_refusal"


class CatalogueError(ValueError):
    """The requirements file is malformed; the message says where and what was expected."""


@dataclass(frozen=True)
class Requirement:
    """One requirement: software (needs a test) or procedural (no test can prove it)."""

    id: str
    source: str
    statement: str
    group: str
    kind: str = "software"
    rationale: str = ""

    def as_dict(self) -> dict[str, str]:
        data = {
            "id": self.id,
            "source": self.source,
            "statement": self.statement,
            "group": self.group,
            "kind": self.kind,
        }
        if self.rationale:
            data["rationale"] = self.rationale
        return data


@dataclass(frozen=True)
class Catalogue:
    """The requirements file, read and checked."""

    path: Path
    groups: dict[str, str]
    software: dict[str, Requirement]
    procedural: dict[str, Requirement]


def _text(entry: dict[str, Any], key: str, where: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise CatalogueError(f"{where}: '{key}' must be a non-empty text")
    return " ".join(value.split())


def load_catalogue(path: Path) -> Catalogue:
    """Read the requirements file; every id unique and well-formed, every entry complete."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise CatalogueError(f"{path}: the requirements file does not exist") from exc
    except yaml.YAMLError as exc:
        raise CatalogueError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise CatalogueError(f"{path}: expected a mapping with 'groups' and 'requirements'")
    groups = data.get("groups")
    if not isinstance(groups, dict) or not groups:
        raise CatalogueError(f"{path}: 'groups' must map id prefixes to titles")
    seen: dict[str, Requirement] = {}
    sections: dict[str, dict[str, Requirement]] = {"requirements": {}, "procedural": {}}
    for section, entries in (
        ("requirements", data.get("requirements")),
        ("procedural", data.get("procedural") or []),
    ):
        if not isinstance(entries, list) or (section == "requirements" and not entries):
            raise CatalogueError(f"{path}: '{section}' must be a list of requirements")
        for number, entry in enumerate(entries, start=1):
            where = f"{path}: {section} entry {number}"
            if not isinstance(entry, dict):
                raise CatalogueError(f"{where}: expected a mapping with id, source, statement")
            requirement_id = entry.get("id")
            if not isinstance(requirement_id, str) or not ID_PATTERN.match(requirement_id):
                raise CatalogueError(
                    f"{where}: id {requirement_id!r} must look like PREFIX-PART (capitals, "
                    "digits, dots and hyphens)"
                )
            where = f"{path}: {requirement_id}"
            if requirement_id in seen:
                raise CatalogueError(f"{where}: the id is listed twice")
            prefix = requirement_id.split("-", 1)[0]
            if prefix not in groups:
                raise CatalogueError(
                    f"{where}: the prefix {prefix} is not one of the groups {sorted(groups)}"
                )
            kind = "software"
            rationale = ""
            if section == "procedural":
                kind = entry.get("kind", "procedural")
                if kind not in PROCEDURAL_KINDS:
                    raise CatalogueError(
                        f"{where}: kind must be one of {sorted(PROCEDURAL_KINDS)}, not {kind!r}"
                    )
                rationale = _text(entry, "rationale", where)
            requirement = Requirement(
                id=requirement_id,
                source=_text(entry, "source", where),
                statement=_text(entry, "statement", where),
                group=prefix,
                kind=kind,
                rationale=rationale,
            )
            seen[requirement_id] = requirement
            sections[section][requirement_id] = requirement
    return Catalogue(
        path=path,
        groups={str(k): str(v) for k, v in groups.items()},
        software=sections["requirements"],
        procedural=sections["procedural"],
    )


def marker_ids(item: pytest.Item) -> list[str]:
    """The requirement ids an item declares, from its own, class and module markers."""
    ids: list[str] = []
    for mark in item.iter_markers(MARKER):
        ids.extend(mark.args)
    return list(dict.fromkeys(ids))


def check_markers(items: Iterable[pytest.Item], catalogue: Catalogue) -> list[str]:
    """Each problem with the markers of these items, in words; empty when all is well."""
    problems: list[str] = []
    for item in items:
        for mark in item.iter_markers(MARKER):
            if mark.kwargs:
                problems.append(
                    f"{item.nodeid}: @pytest.mark.requirement takes ids only, "
                    f"not {sorted(mark.kwargs)}"
                )
            if not mark.args:
                problems.append(f"{item.nodeid}: @pytest.mark.requirement names no requirement")
            for requirement_id in mark.args:
                if not isinstance(requirement_id, str):
                    problems.append(
                        f"{item.nodeid}: requirement ids are texts, not {requirement_id!r}"
                    )
                elif requirement_id in catalogue.procedural:
                    problems.append(
                        f"{item.nodeid}: {requirement_id} is procedural; no test can prove it"
                    )
                elif requirement_id not in catalogue.software:
                    problems.append(
                        f"{item.nodeid}: unknown requirement {requirement_id!r} "
                        f"(not in {catalogue.path.name})"
                    )
    return list(dict.fromkeys(problems))


# -- run metadata ------------------------------------------------------------------------


def _command(*args: str) -> str | None:
    try:
        result = subprocess.run(
            list(args), cwd=BASE_DIR, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def git_state() -> dict[str, Any]:
    """The commit checked out and whether the working tree differs from it (read-only)."""
    commit = _command("git", "rev-parse", "HEAD")
    status = _command("git", "--no-optional-locks", "status", "--porcelain")
    return {
        "commit": commit,
        "dirty": bool(status) if status is not None else None,
        "branch": _command("git", "rev-parse", "--abbrev-ref", "HEAD"),
    }


def machine() -> dict[str, Any]:
    """The machine the run took place on."""
    cpu = platform.processor() or platform.machine()
    memory_gb: float | None = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
                break
    except OSError:
        pass
    return {
        "hostname": platform.node(),
        "platform": platform.platform(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "memory_gb": memory_gb,
    }


def postgresql_version() -> str | None:
    """The server version of the open database connection, without a query; None if none."""
    try:
        from django.db import connection

        info = getattr(connection.connection, "info", None)
        version = info.parameter_status("server_version") if info is not None else None
    except Exception:  # metadata only: no Django settings or no open connection
        return None
    return str(version) if version else None


# -- the plugin --------------------------------------------------------------------------

OUTCOME_ORDER = ["failed", "error", "xpassed", "passed", "xfailed", "skipped"]


@dataclass(eq=False)
class Traceability:
    """What one pytest session collected and how its tests fared."""

    config: pytest.Config
    catalogue: Catalogue
    results_path: Path
    started_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    deselected: int = 0
    collection_errors: int = 0
    items: dict[str, list[str]] = field(default_factory=dict)
    outcomes: dict[str, str] = field(default_factory=dict)
    durations: dict[str, float] = field(default_factory=dict)
    postgresql: str | None = None
    gaps: list[str] | None = None
    refused: bool = False
    refusal: str = ""

    # -- collection --------------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        problems = check_markers(items, self.catalogue)
        if problems:
            self.refused = True
            message = (
                "Requirement markers name requirements that cannot be traced:\n  "
                + "\n  ".join(problems)
                + f"\nThe software requirements are listed in {self.requirements_file}."
            )
            if not self.worker:
                raise pytest.UsageError(message)
            # An error raised on an xdist worker would read as a crash: the worker runs
            # nothing and the controller stops the run with the message instead.
            self.config.workeroutput[WORKER_REFUSAL] = message  # type: ignore[attr-defined]
            items.clear()

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        self.deselected += len(items)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collection_errors += 1

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if self.refused:
            return
        self.items = {item.nodeid: marker_ids(item) for item in session.items}
        workeroutput = getattr(self.config, "workeroutput", None)
        if workeroutput is not None:
            workeroutput[WORKER_OUTPUT] = {
                "items": self.items,
                "deselected": self.deselected,
                "collection_errors": self.collection_errors,
            }
            return
        self.find_gaps()

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        """An xdist worker is done: take in what it collected (each worker collects the
        same suite) and the PostgreSQL it ran on."""
        output = getattr(node, "workeroutput", {})
        if output.get(WORKER_REFUSAL):
            self.refused = True
            self.refusal = output[WORKER_REFUSAL]
        collected = output.get(WORKER_OUTPUT)
        if collected:
            self.items.update(collected["items"])
            self.deselected = max(self.deselected, collected["deselected"])
            self.collection_errors = max(self.collection_errors, collected["collection_errors"])
            self.find_gaps()
        if self.postgresql is None and output.get(WORKER_POSTGRESQL):
            self.postgresql = output[WORKER_POSTGRESQL]

    def find_gaps(self) -> None:
        """On a run of the whole suite, the software requirements no test names."""
        if self.whole_suite() and not self.collection_errors:
            traced = {rid for ids in self.items.values() for rid in ids}
            self.gaps = [rid for rid in self.catalogue.software if rid not in traced]

    @property
    def worker(self) -> bool:
        """Whether this is an xdist worker, which hands its results to the controller."""
        return hasattr(self.config, "workerinput")

    @property
    def requirements_file(self) -> str:
        return _relative(self.catalogue.path, self.config.rootpath)

    def whole_suite(self) -> bool:
        """Whether this session collected the whole suite: the testpaths, nothing left out."""
        if self.deselected:
            return False
        testpaths = {
            (self.config.rootpath / p).resolve() for p in self.config.getini("testpaths")
        } or {self.config.rootpath.resolve()}
        if self.config.args_source != pytest.Config.ArgsSource.ARGS:
            return True
        requested = set()
        for arg in self.config.args:
            if "::" in arg:
                return False
            requested.add((self.config.invocation_params.dir / arg).resolve())
        return requested == testpaths

    # -- running -----------------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> None:
        # Before the fixtures' teardown: a database test's connection is still open.
        if self.postgresql is None:
            self.postgresql = postgresql_version()
            workeroutput = getattr(self.config, "workeroutput", None)
            if workeroutput is not None and self.postgresql is not None:
                workeroutput[WORKER_POSTGRESQL] = self.postgresql

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        nodeid = report.nodeid
        self.durations[nodeid] = self.durations.get(nodeid, 0.0) + report.duration
        previous = self.outcomes.get(nodeid)
        if report.when == "call":
            if hasattr(report, "wasxfail"):
                outcome = "xfailed" if report.skipped else "xpassed"
            else:
                outcome = report.outcome
        elif report.failed:
            outcome = "error"
        elif report.skipped:
            outcome = "skipped"
        else:
            return
        if previous in {"failed", "error"}:
            return
        self.outcomes[nodeid] = outcome

    # -- the end -----------------------------------------------------------------------

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.worker:
            return
        if self.refusal:
            session.exitstatus = pytest.ExitCode.USAGE_ERROR
            sys.stderr.write(f"ERROR: {self.refusal}\n")
            return
        if self.gaps and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        if not self.config.option.collectonly and self.items:
            self.write(exit_status=int(session.exitstatus))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.worker:
            return
        if self.gaps:
            terminalreporter.section("requirements without a test", sep="=", red=True, bold=True)
            terminalreporter.line(
                f"Every software requirement of {self.requirements_file} needs at least one "
                "test marked @pytest.mark.requirement(...) naming it. Without a test:",
                red=True,
            )
            for requirement_id in self.gaps:
                requirement = self.catalogue.software[requirement_id]
                terminalreporter.line(f"  {requirement_id}: {requirement.source}", red=True)
        if self.config.option.collectonly or not self.items:
            return
        traced = sum(1 for ids in self.items.values() if ids)
        terminalreporter.write_line(
            f"traceability: {traced} of {len(self.items)} tests trace to requirements; "
            f"results in {self.results_path}"
        )

    def requirement_outcome(self, tests: list[str]) -> str:
        """One word for a requirement: failed if any test failed, passed if all passed.

        A skipped or expected-to-fail test proves nothing: beside passing tests it makes
        the requirement "incomplete", alone "skipped".
        """
        if not tests:
            return "gap" if self.gaps is not None else "not_collected"
        outcomes = {self.outcomes.get(t, "not_run") for t in tests}
        if outcomes & {"failed", "error", "xpassed"}:
            return "failed"
        if outcomes == {"passed"}:
            return "passed"
        if outcomes == {"not_run"}:
            return "not_run"
        if "passed" in outcomes or "not_run" in outcomes:
            return "incomplete"
        return "skipped"

    def results(self, *, exit_status: int) -> dict[str, Any]:
        by_requirement: dict[str, list[str]] = {rid: [] for rid in self.catalogue.software}
        for nodeid, ids in self.items.items():
            for requirement_id in ids:
                by_requirement[requirement_id].append(nodeid)
        counts: dict[str, int] = {}
        for nodeid in self.items:
            outcome = self.outcomes.get(nodeid, "not_run")
            counts[outcome] = counts.get(outcome, 0) + 1
        requirements = {
            rid: {
                **self.catalogue.software[rid].as_dict(),
                "tests": tests,
                "outcome": self.requirement_outcome(tests),
            }
            for rid, tests in by_requirement.items()
        }
        return {
            "schema": RESULTS_SCHEMA,
            "run": {
                "started_at": self.started_at.isoformat(timespec="seconds"),
                "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "whole_suite": self.gaps is not None,
                "args": list(self.config.invocation_params.args),
                "exit_status": exit_status,
                "collection_errors": self.collection_errors,
                "deselected": self.deselected,
                "git": git_state(),
                "machine": machine(),
                "python": sys.version.split()[0],
                "pytest": pytest.__version__,
                "postgresql": self.postgresql,
                "test_counts": counts,
            },
            "requirements_file": self.requirements_file,
            "groups": self.catalogue.groups,
            "requirements": requirements,
            "procedural": [r.as_dict() for r in self.catalogue.procedural.values()],
            "gaps": self.gaps,
            "failed": [rid for rid, r in requirements.items() if r["outcome"] == "failed"],
            "tests": {
                nodeid: {
                    "outcome": self.outcomes.get(nodeid, "not_run"),
                    "duration": round(self.durations.get(nodeid, 0.0), 3),
                    "requirements": ids,
                }
                for nodeid, ids in self.items.items()
            },
        }

    def write(self, *, exit_status: int) -> None:
        """Write the results atomically, so a reader never sees half a file."""
        self.results_path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.results_path.with_name(f".{self.results_path.name}.{os.getpid()}")
        temporary.write_text(
            json.dumps(self.results(exit_status=exit_status), indent=1, ensure_ascii=False),
            encoding="utf-8",
        )
        os.replace(temporary, self.results_path)


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("traceability", "requirement-to-test traceability")
    group.addoption(
        "--requirements-file",
        default=None,
        help=f"the requirements file (default: {DEFAULT_REQUIREMENTS} under the rootdir)",
    )
    group.addoption(
        "--validation-results",
        default=None,
        help=f"where to write the run's results (default: {DEFAULT_RESULTS} under the rootdir)",
    )


def pytest_configure(config: pytest.Config) -> None:
    root = config.rootpath
    requirements = Path(config.getoption("requirements_file") or root / DEFAULT_REQUIREMENTS)
    results = Path(config.getoption("validation_results") or root / DEFAULT_RESULTS)
    try:
        catalogue = load_catalogue(requirements)
    except CatalogueError as exc:
        raise pytest.UsageError(str(exc)) from exc
    config.pluginmanager.register(
        Traceability(config=config, catalogue=catalogue, results_path=results),
        "ecrf-traceability",
    )
