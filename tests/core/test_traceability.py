"""The traceability matrix checks itself: markers, gaps, results and the report.

Each test runs pytest (pytester) on a small suite of its own, with the plugin and a
requirements file of its own and no other plugin, and reads back what the plugin wrote.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from tests.traceability import CatalogueError, load_catalogue

from ..conftest import BASE_DIR

pytestmark = pytest.mark.requirement("CFR11-10A-VALIDATION", "ICH-E6R3-4.3.4-VALIDATION")

REQUIREMENTS = """
version: 1
groups:
  T: "Test requirements"
requirements:
  - id: T-ONE
    source: "Rule 1"
    statement: "The first rule."
  - id: T-TWO
    source: "Rule 2"
    statement: "The second rule, with <script>alert(1)</script> in it."
procedural:
  - id: T-PROC
    source: "Rule 3"
    kind: procedural
    statement: "People are trained."
    rationale: "Training records."
"""

PYTEST_INI = """
[pytest]
testpaths = checks
addopts = --strict-markers
markers =
    requirement(*ids): requirements proven
"""


@dataclass(frozen=True)
class Run:
    """How a run of the small suite ended, and what it printed."""

    returncode: int
    stdout: str
    stderr: str


class Suite:
    """A small suite in a folder of its own, run by pytest with the traceability plugin."""

    def __init__(self, pytester: pytest.Pytester) -> None:
        self.pytester = pytester
        self.root = pytester.path
        self.results_path = self.root / "out" / "results.json"
        (self.root / "checks").mkdir()
        (self.root / "pytest.ini").write_text(PYTEST_INI)
        (self.root / "requirements.yaml").write_text(REQUIREMENTS)

    def file(self, name: str, source: str) -> None:
        (self.root / "checks" / name).write_text(
            "import pytest\n\n" + textwrap.dedent(source).lstrip()
        )

    def run(self, *args: str) -> Run:
        result = self.pytester.runpytest_inprocess(
            "-p",
            "tests.traceability",
            "-p",
            "no:cacheprovider",
            "--requirements-file",
            str(self.root / "requirements.yaml"),
            "--validation-results",
            str(self.results_path),
            *args,
        )
        return Run(int(result.ret), "\n".join(result.outlines), "\n".join(result.errlines))

    def results(self) -> dict[str, Any]:
        return json.loads(self.results_path.read_text())


def render_report(results: Path) -> subprocess.CompletedProcess[str]:
    """Run ``scripts/validation_report.py`` on a results file, as ``make`` does."""
    return subprocess.run(
        [
            sys.executable,
            str(BASE_DIR / "scripts" / "validation_report.py"),
            "--results",
            str(results),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Suite:
    # Only the plugin under test: no Django, Hypothesis or load-test plugins.
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    suite = Suite(pytester)
    suite.file(
        "test_one.py",
        """
        @pytest.mark.requirement("T-ONE")
        def test_one():
            pass

        def test_untraced():
            pass
        """,
    )
    return suite


def test_a_run_of_the_whole_suite_fails_naming_each_requirement_without_a_test(suite):
    run = suite.run()
    assert run.returncode == 1, run.stdout + run.stderr
    assert "requirements without a test" in run.stdout
    assert "T-TWO: Rule 2" in run.stdout
    assert "T-ONE:" not in run.stdout
    results = suite.results()
    assert results["run"]["whole_suite"] is True
    assert results["gaps"] == ["T-TWO"]
    assert results["requirements"]["T-TWO"]["outcome"] == "gap"
    assert results["requirements"]["T-ONE"]["tests"] == ["checks/test_one.py::test_one"]
    assert results["requirements"]["T-ONE"]["outcome"] == "passed"


def test_naming_the_testpaths_is_a_run_of_the_whole_suite(suite):
    run = suite.run("checks")
    assert run.returncode == 1
    assert suite.results()["gaps"] == ["T-TWO"]


@pytest.mark.parametrize(
    "args",
    [("checks/test_one.py",), ("-k", "not untraced"), ("checks/test_one.py::test_one",)],
)
def test_a_run_of_part_of_the_suite_does_not_count_gaps(suite, args):
    run = suite.run(*args)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "requirements without a test" not in run.stdout
    results = suite.results()
    assert results["run"]["whole_suite"] is False
    assert results["gaps"] is None
    assert results["requirements"]["T-TWO"]["outcome"] == "not_collected"


def test_a_marker_with_an_unknown_id_stops_even_a_run_of_one_file(suite):
    suite.file(
        "test_typo.py",
        """
        @pytest.mark.requirement("T-ONE", "T-TOW")
        def test_typo():
            pass
        """,
    )
    run = suite.run("checks/test_typo.py")
    assert run.returncode == pytest.ExitCode.USAGE_ERROR, run.stdout + run.stderr
    assert "checks/test_typo.py::test_typo: unknown requirement 'T-TOW'" in run.stderr
    assert not suite.results_path.exists()


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        ('@pytest.mark.requirement("T-PROC")', "T-PROC is procedural; no test can prove it"),
        ("@pytest.mark.requirement()", "names no requirement"),
        ("@pytest.mark.requirement(1)", "requirement ids are texts"),
        ('@pytest.mark.requirement(id="T-ONE")', "takes ids only"),
    ],
)
def test_a_marker_that_proves_nothing_traceable_is_refused(suite, marker, message):
    suite.file("test_bad.py", f"{marker}\ndef test_bad():\n    pass\n")
    run = suite.run()
    assert run.returncode == pytest.ExitCode.USAGE_ERROR
    assert message in run.stderr


def test_the_results_give_each_test_and_each_requirement_its_outcome(suite):
    suite.file(
        "test_two.py",
        """
        pytestmark = pytest.mark.requirement("T-TWO")

        def test_passes():
            pass

        @pytest.mark.parametrize("n", [1, 2])
        def test_fails_once(n):
            assert n == 1

        @pytest.mark.skip(reason="not today")
        def test_skipped():
            pass
        """,
    )
    run = suite.run()
    assert run.returncode == 1
    assert "requirements without a test" not in run.stdout
    results = suite.results()
    assert results["gaps"] == []
    assert results["failed"] == ["T-TWO"]
    outcomes = {nodeid: t["outcome"] for nodeid, t in results["tests"].items()}
    assert outcomes == {
        "checks/test_one.py::test_one": "passed",
        "checks/test_one.py::test_untraced": "passed",
        "checks/test_two.py::test_passes": "passed",
        "checks/test_two.py::test_fails_once[1]": "passed",
        "checks/test_two.py::test_fails_once[2]": "failed",
        "checks/test_two.py::test_skipped": "skipped",
    }
    assert results["tests"]["checks/test_one.py::test_untraced"]["requirements"] == []
    assert results["requirements"]["T-TWO"]["outcome"] == "failed"
    assert len(results["requirements"]["T-TWO"]["tests"]) == 4
    assert [p["id"] for p in results["procedural"]] == ["T-PROC"]
    run_info = results["run"]
    assert run_info["exit_status"] == 1
    assert run_info["python"] == sys.version.split()[0]
    assert run_info["machine"]["cpu_count"] >= 1
    assert len(run_info["git"]["commit"]) == 40


@pytest.mark.parametrize(
    ("second_test", "outcome"),
    [
        ('@pytest.mark.skip(reason="not today")\ndef test_skipped():\n    pass', "incomplete"),
        ('@pytest.mark.xfail(reason="known")\ndef test_xfail():\n    assert False', "incomplete"),
    ],
)
def test_a_skipped_or_expected_failure_leaves_a_requirement_unproven(suite, second_test, outcome):
    suite.file("test_one.py", "@pytest.mark.requirement('T-ONE')\ndef test_one():\n    pass\n")
    suite.file(
        "test_two.py",
        "@pytest.mark.requirement('T-TWO')\ndef test_passes():\n    pass\n\n"
        f"@pytest.mark.requirement('T-TWO')\n{second_test}\n\n"
        "@pytest.mark.requirement('T-ONE')\n@pytest.mark.xfail(reason='known')\n"
        "def test_only_xfail_for_nothing_else():\n    assert False\n",
    )
    suite.file(
        "test_three.py",
        "@pytest.mark.xfail(reason='known')\ndef test_x():\n    assert False\n",
    )
    run = suite.run()
    assert run.returncode == 0, run.stdout + run.stderr
    requirements = suite.results()["requirements"]
    assert requirements["T-TWO"]["outcome"] == outcome
    # A passing test beside an expected failure is not proof either.
    assert requirements["T-ONE"]["outcome"] == "incomplete"
    report = render_report(suite.results_path)
    assert report.returncode == 1
    assert "Requirements whose tests did not all run and pass: T-ONE, T-TWO" in report.stdout


def test_a_requirement_whose_only_test_is_skipped_is_skipped_not_passed(suite):
    suite.file(
        "test_one.py",
        "@pytest.mark.requirement('T-ONE')\n@pytest.mark.xfail(reason='known')\n"
        "def test_one():\n    assert False\n",
    )
    suite.file(
        "test_two.py",
        "@pytest.mark.requirement('T-TWO')\n@pytest.mark.skip(reason='x')\n"
        "def test_two():\n    pass\n",
    )
    suite.run()
    requirements = suite.results()["requirements"]
    assert requirements["T-ONE"]["outcome"] == "skipped"
    assert requirements["T-TWO"]["outcome"] == "skipped"


def test_a_malformed_requirements_file_stops_the_run(suite):
    (suite.root / "requirements.yaml").write_text(
        REQUIREMENTS + '  - id: T-ONE\n    source: "x"\n    kind: procedural\n'
        '    statement: "y"\n    rationale: "z"\n'
    )
    run = suite.run()
    assert run.returncode == pytest.ExitCode.USAGE_ERROR
    assert "T-ONE: the id is listed twice" in run.stderr


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('  - id: t-lower\n    source: "x"\n    statement: "y"\n', "must look like"),
        ('  - id: X-OTHER\n    source: "x"\n    statement: "y"\n', "not one of the groups"),
        ('  - id: T-EMPTY\n    source: "x"\n    statement: " "\n', "'statement' must be"),
    ],
)
def test_the_catalogue_refuses_bad_entries(tmp_path, entry, message):
    text = REQUIREMENTS.replace("procedural:\n", "").split("  - id: T-PROC")[0] + entry
    path = tmp_path / "requirements.yaml"
    path.write_text(text)
    with pytest.raises(CatalogueError, match=message):
        load_catalogue(path)


def test_the_projects_requirements_file_is_well_formed():
    catalogue = load_catalogue(BASE_DIR / "traceability" / "requirements.yaml")
    assert set(catalogue.groups) == {"PROT", "CFR11", "ICH", "API"}
    prefixes = {r.group for r in catalogue.software.values()}
    assert prefixes == set(catalogue.groups)
    assert all(r.rationale for r in catalogue.procedural.values())
    assert {"CFR11-10I-TRAINING", "CFR11-10J-POLICIES"} <= set(catalogue.procedural)


class _Text(HTMLParser):
    """The text of an HTML page and the ids of its elements, read by a real parser."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.ids: dict[str, dict[str, str | None]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if attributes.get("id"):
            self.ids[str(attributes["id"])] = attributes

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_the_report_lists_requirements_tests_gaps_failures_and_procedural_items(suite):
    suite.file(
        "test_two.py",
        """
        @pytest.mark.requirement("T-TWO")
        @pytest.mark.parametrize("n", [1, 2])
        def test_fails_once(n):
            assert n == 1
        """,
    )
    suite.run()
    report = render_report(suite.results_path)
    assert report.returncode == 1, report.stderr
    assert "Requirements with a failing test: T-TWO" in report.stdout
    markdown = (suite.results_path.parent / "validation-report.md").read_text()
    assert "#### T-ONE: passed" in markdown
    assert "#### T-TWO: FAILED" in markdown
    assert "- `checks/test_two.py::test_fails_once`: 2 cases: 1 failed, 1 passed" in markdown
    assert "| T-PROC | Rule 3 | procedural | People are trained. | Training records. |" in markdown
    assert "- `checks/test_one.py`: 1" in markdown
    assert "Gaps: requirements without a test\n\nNone" in markdown

    page = (suite.results_path.parent / "validation-report.html").read_text()
    parsed = _Text()
    parsed.feed(page)
    assert parsed.ids["T-ONE"]["data-outcome"] == "passed"
    assert parsed.ids["T-TWO"]["data-outcome"] == "failed"
    assert "<script>" not in page
    assert "<script>alert(1)</script>" in "".join(parsed.text)
    assert "People are trained." in "".join(parsed.text)


def test_the_report_without_results_says_how_to_get_them(tmp_path):
    report = render_report(tmp_path / "none.json")
    assert report.returncode == 2
    assert "run the tests first" in report.stderr


def test_under_xdist_the_results_hold_every_test_of_every_worker(suite):
    suite.file(
        "test_two.py",
        """
        pytestmark = pytest.mark.requirement("T-TWO")

        @pytest.mark.parametrize("n", range(6))
        def test_many(n):
            assert n != 5
        """,
    )
    run = suite.run("-p", "xdist.plugin", "-n", "2")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "requirements without a test" not in run.stdout
    results = suite.results()
    assert results["run"]["whole_suite"] is True
    assert results["gaps"] == []
    outcomes = {nodeid: t["outcome"] for nodeid, t in results["tests"].items()}
    assert outcomes == {
        "checks/test_one.py::test_one": "passed",
        "checks/test_one.py::test_untraced": "passed",
        **{f"checks/test_two.py::test_many[{n}]": "passed" for n in range(5)},
        "checks/test_two.py::test_many[5]": "failed",
    }
    assert results["requirements"]["T-ONE"]["outcome"] == "passed"
    assert results["requirements"]["T-TWO"]["outcome"] == "failed"


def test_under_xdist_a_requirement_without_a_test_still_fails_the_run(suite):
    run = suite.run("-p", "xdist.plugin", "-n", "2")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "T-TWO: Rule 2" in run.stdout
    assert suite.results()["gaps"] == ["T-TWO"]


def test_under_xdist_a_marker_with_an_unknown_id_stops_the_run(suite):
    suite.file(
        "test_typo.py",
        """
        @pytest.mark.requirement("T-TOW")
        def test_typo():
            pass
        """,
    )
    run = suite.run("-p", "xdist.plugin", "-n", "2")
    assert run.returncode == pytest.ExitCode.USAGE_ERROR, run.stdout + run.stderr
    assert "checks/test_typo.py::test_typo: unknown requirement 'T-TOW'" in run.stderr
    assert not suite.results_path.exists()
