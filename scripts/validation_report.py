"""The validation report: each requirement, the tests that prove it and how they fared.

Reads the results the test plugin (tests/traceability.py) wrote in the last pytest run,
``test-artifacts/validation/results.json`` by default, and writes beside it
``validation-report.md`` and ``validation-report.html``: the run (date, git commit,
machine, Python, pytest and PostgreSQL versions), the requirements without a test
(gaps), those whose tests failed, every requirement with its source, statement, tests
and results, and the procedural items no software test can prove.

``make validation-report`` runs the whole suite first and then this script; run alone, it
renders whatever run came last (a run of part of the suite says so in the report).
"""

from __future__ import annotations

import argparse
import datetime as dt
import html
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_RESULTS = BASE_DIR / "test-artifacts" / "validation" / "results.json"
SUPPORTED_SCHEMA = 1

#: How each requirement outcome is said, and the order in which the summary lists them.
OUTCOME_WORDS = {
    "passed": "passed",
    "failed": "FAILED",
    "gap": "GAP: no test",
    "skipped": "skipped",
    "incomplete": "partly run",
    "not_run": "not run",
    "not_collected": "not in this run",
}
TEST_OUTCOME_ORDER = ["failed", "error", "xpassed", "passed", "xfailed", "skipped", "not_run"]


class ResultsError(Exception):
    """The results file is missing or not one this script can read; the message says why."""


def load_results(path: Path) -> dict[str, Any]:
    """Read and check the results of a run."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ResultsError(
            f"{path} does not exist: run the tests first (make validation-report runs the "
            "whole suite, then this script)"
        ) from exc
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or data.get("schema") != SUPPORTED_SCHEMA:
        raise ResultsError(
            f"{path} is not a results file of schema {SUPPORTED_SCHEMA} "
            "(written by tests/traceability.py)"
        )
    return data


# -- what the report says ----------------------------------------------------------------


def grouped_tests(results: dict[str, Any], nodeids: list[str]) -> list[tuple[str, Counter[str]]]:
    """The tests of a requirement, parametrized cases folded into their test function."""
    groups: dict[str, Counter[str]] = {}
    for nodeid in nodeids:
        base = nodeid.split("[", 1)[0]
        groups.setdefault(base, Counter())[results["tests"][nodeid]["outcome"]] += 1
    return sorted(groups.items())


def outcome_text(counts: Counter[str]) -> str:
    """The outcome of one test, or of the cases of a parametrized one ("3 cases: 3 passed")."""
    total = sum(counts.values())
    parts = [f"{counts[o]} {o.replace('_', ' ')}" for o in TEST_OUTCOME_ORDER if counts[o]]
    if total == 1:
        return parts[0].split(" ", 1)[1]
    return f"{total} cases: " + ", ".join(parts)


def run_rows(results: dict[str, Any]) -> list[tuple[str, str]]:
    """The run's metadata as (label, value) rows."""
    run = results["run"]
    git = run.get("git") or {}
    machine = run.get("machine") or {}
    commit = git.get("commit") or "unknown"
    if git.get("branch"):
        commit += f" (branch {git['branch']})"
    if git.get("dirty"):
        commit += ", with uncommitted changes"
    memory = f", {machine['memory_gb']} GB" if machine.get("memory_gb") else ""
    counts = run.get("test_counts") or {}
    tests = ", ".join(
        f"{counts[o]} {o.replace('_', ' ')}" for o in TEST_OUTCOME_ORDER if o in counts
    )
    if run.get("whole_suite"):
        scope = "the whole suite"
    else:
        scope = "part of the suite (" + (" ".join(run.get("args") or []) or "no arguments") + ")"
        scope += ": gaps are determined only on a run of the whole suite"
    status = run.get("exit_status")
    return [
        ("Run", f"{run.get('started_at')} to {run.get('finished_at')} (UTC)"),
        ("Git commit", commit),
        (
            "Machine",
            f"{machine.get('hostname')}: {machine.get('cpu')}, "
            f"{machine.get('cpu_count')} CPUs{memory}; {machine.get('platform')}",
        ),
        ("Python, pytest", f"{run.get('python')}, pytest {run.get('pytest')}"),
        ("PostgreSQL", run.get("postgresql") or "not recorded (no database test ran)"),
        ("Scope", scope),
        ("Tests", f"{len(results['tests'])} collected: {tests}"),
        ("pytest exit status", f"{status} ({'passed' if status == 0 else 'failed'})"),
        ("Requirements file", results.get("requirements_file", "")),
    ]


def summary(results: dict[str, Any]) -> list[str]:
    """The report's headline figures, one sentence each."""
    requirements = results["requirements"]
    counts = Counter(r["outcome"] for r in requirements.values())
    traced = sum(1 for t in results["tests"].values() if t["requirements"])
    by_outcome = ", ".join(
        f"{counts[o]} {OUTCOME_WORDS[o]}" for o in OUTCOME_WORDS if counts.get(o)
    )
    return [
        f"{len(requirements)} software requirements: {by_outcome}.",
        f"{len(results['procedural'])} procedural or not-applicable items, not tested by software.",
        f"{traced} of {len(results['tests'])} tests trace to at least one requirement.",
    ]


def untraced_by_file(results: dict[str, Any]) -> list[tuple[str, int]]:
    """How many tests of each file trace to no requirement."""
    counts: Counter[str] = Counter(
        nodeid.split("::", 1)[0] for nodeid, t in results["tests"].items() if not t["requirements"]
    )
    return sorted(counts.items())


def by_group(results: dict[str, Any]) -> list[tuple[str, str, list[dict[str, Any]]]]:
    """(prefix, title, requirements) in the order of the requirements file."""
    groups: dict[str, list[dict[str, Any]]] = {prefix: [] for prefix in results["groups"]}
    for requirement in results["requirements"].values():
        groups.setdefault(requirement["group"], []).append(requirement)
    return [
        (prefix, results["groups"].get(prefix, prefix), items)
        for prefix, items in groups.items()
        if items
    ]


# -- Markdown ----------------------------------------------------------------------------


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(results: dict[str, Any], *, generated_at: dt.datetime) -> str:
    lines = [
        "# Validation report: tacrolimus trial eCRF",
        "",
        f"Generated {generated_at.isoformat(timespec='seconds')} from the results of the last "
        "test run. Each requirement below names the tests that prove it and their result in "
        "that run.",
        "",
        "## The run",
        "",
        "| | |",
        "|---|---|",
        *(f"| {label} | {_md(str(value))} |" for label, value in run_rows(results)),
        "",
        "## Summary",
        "",
        *(f"- {line}" for line in summary(results)),
        "",
        "## Gaps: requirements without a test",
        "",
    ]
    gaps = results.get("gaps")
    if gaps is None:
        lines.append("Not determined: this run did not collect the whole suite.")
    elif not gaps:
        lines.append("None: every software requirement has at least one test.")
    else:
        lines += ["| Requirement | Source | Statement |", "|---|---|---|"]
        for requirement_id in gaps:
            r = results["requirements"][requirement_id]
            lines.append(f"| {r['id']} | {_md(r['source'])} | {_md(r['statement'])} |")
    lines += ["", "## Failed: requirements with a failing test", ""]
    failed = results.get("failed") or []
    if not failed:
        lines.append("None.")
    for requirement_id in failed:
        r = results["requirements"][requirement_id]
        bad = [
            nodeid
            for nodeid in r["tests"]
            if results["tests"][nodeid]["outcome"] in {"failed", "error", "xpassed"}
        ]
        lines.append(f"- **{r['id']}** ({_md(r['source'])}): " + ", ".join(f"`{n}`" for n in bad))
    lines += ["", "## Requirements and their tests", ""]
    for _prefix, title, requirements in by_group(results):
        lines += [f"### {title}", ""]
        for r in requirements:
            lines += [
                f"#### {r['id']}: {OUTCOME_WORDS.get(r['outcome'], r['outcome'])}",
                "",
                f"*{r['source']}.* {r['statement']}",
                "",
            ]
            tests = grouped_tests(results, r["tests"])
            if not tests:
                lines.append("- no test")
            lines += [f"- `{name}`: {outcome_text(counts)}" for name, counts in tests]
            lines.append("")
    lines += [
        "## Procedural, not tested by software",
        "",
        "| Item | Source | Kind | Requirement | How it is met |",
        "|---|---|---|---|---|",
    ]
    for item in results["procedural"]:
        kind = "not applicable" if item["kind"] == "not_applicable" else "procedural"
        lines.append(
            f"| {item['id']} | {_md(item['source'])} | {kind} | {_md(item['statement'])} "
            f"| {_md(item.get('rationale', ''))} |"
        )
    lines += ["", "## Tests that trace to no requirement", ""]
    untraced = untraced_by_file(results)
    if not untraced:
        lines.append("None.")
    lines += [f"- `{path}`: {count}" for path, count in untraced]
    return "\n".join(lines) + "\n"


# -- HTML --------------------------------------------------------------------------------

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; line-height: 1.4; color: #212529; }
table { border-collapse: collapse; width: 100%; margin: 0.5rem 0 1.5rem; }
th, td { border: 1px solid #dee2e6; padding: 0.3rem 0.5rem; text-align: left;
         vertical-align: top; }
th { background: #f1f3f5; }
code { font-size: 0.85em; overflow-wrap: anywhere; }
table.requirements { table-layout: fixed; }
table.requirements th:nth-child(1) { width: 13%; }
table.requirements th:nth-child(2) { width: 14%; }
table.requirements th:nth-child(3) { width: 30%; }
table.requirements th:nth-child(5) { width: 8%; }
ul.tests { margin: 0; padding-left: 1.1rem; }
.passed { color: #146c43; } .failed, .gap, .error { color: #b02a37; font-weight: bold; }
.skipped, .not_run, .not_collected, .incomplete { color: #997404; }
td.id { font-weight: bold; overflow-wrap: anywhere; }
@media print { body { margin: 0; } }
"""


def _h(text: object) -> str:
    return html.escape(str(text), quote=True)


def render_html(results: dict[str, Any], *, generated_at: dt.datetime) -> str:
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>Validation report: tacrolimus trial eCRF</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>Validation report: tacrolimus trial eCRF</h1>",
        f"<p>Generated {_h(generated_at.isoformat(timespec='seconds'))} from the results of "
        "the last test run. Each requirement names the tests that prove it and their result "
        "in that run.</p>",
        '<h2>The run</h2><table id="run">',
        *(
            f"<tr><th>{_h(label)}</th><td>{_h(value)}</td></tr>"
            for label, value in run_rows(results)
        ),
        '</table><h2>Summary</h2><ul id="summary">',
        *(f"<li>{_h(line)}</li>" for line in summary(results)),
        '</ul><h2>Gaps: requirements without a test</h2><div id="gaps">',
    ]
    gaps = results.get("gaps")
    if gaps is None:
        out.append("<p>Not determined: this run did not collect the whole suite.</p>")
    elif not gaps:
        out.append("<p>None: every software requirement has at least one test.</p>")
    else:
        out.append("<table><tr><th>Requirement</th><th>Source</th><th>Statement</th></tr>")
        for requirement_id in gaps:
            r = results["requirements"][requirement_id]
            out.append(
                f'<tr><td class="id gap">{_h(r["id"])}</td><td>{_h(r["source"])}</td>'
                f"<td>{_h(r['statement'])}</td></tr>"
            )
        out.append("</table>")
    out.append('</div><h2>Failed: requirements with a failing test</h2><div id="failed">')
    failed = results.get("failed") or []
    if not failed:
        out.append("<p>None.</p>")
    else:
        out.append("<ul>")
        for requirement_id in failed:
            r = results["requirements"][requirement_id]
            bad = [
                n
                for n in r["tests"]
                if results["tests"][n]["outcome"] in {"failed", "error", "xpassed"}
            ]
            out.append(
                f'<li><span class="failed">{_h(r["id"])}</span> ({_h(r["source"])}): '
                + ", ".join(f"<code>{_h(n)}</code>" for n in bad)
                + "</li>"
            )
        out.append("</ul>")
    out.append('</div><h2>Requirements and their tests</h2><div id="requirements">')
    for prefix, title, requirements in by_group(results):
        out += [
            f"<h3>{_h(title)}</h3>",
            f'<table class="requirements" data-group="{_h(prefix)}">'
            "<tr><th>Requirement</th><th>Source</th>"
            "<th>Statement</th><th>Tests and their results</th><th>Result</th></tr>",
        ]
        for r in requirements:
            tests = grouped_tests(results, r["tests"])
            cells = (
                '<ul class="tests">'
                + "".join(
                    f"<li><code>{_h(name)}</code>: "
                    f'<span class="{_h(counts.most_common(1)[0][0])}">'
                    f"{_h(outcome_text(counts))}</span></li>"
                    for name, counts in tests
                )
                + "</ul>"
                if tests
                else '<span class="gap">no test</span>'
            )
            out.append(
                f'<tr id="{_h(r["id"])}" data-outcome="{_h(r["outcome"])}">'
                f'<td class="id">{_h(r["id"])}</td><td>{_h(r["source"])}</td>'
                f"<td>{_h(r['statement'])}</td><td>{cells}</td>"
                f'<td class="{_h(r["outcome"])}">'
                f"{_h(OUTCOME_WORDS.get(r['outcome'], r['outcome']))}</td></tr>"
            )
        out.append("</table>")
    out += [
        '</div><h2>Procedural, not tested by software</h2><table id="procedural">',
        "<tr><th>Item</th><th>Source</th><th>Kind</th><th>Requirement</th>"
        "<th>How it is met</th></tr>",
    ]
    for item in results["procedural"]:
        kind = "not applicable" if item["kind"] == "not_applicable" else "procedural"
        out.append(
            f'<tr><td class="id">{_h(item["id"])}</td><td>{_h(item["source"])}</td>'
            f"<td>{kind}</td><td>{_h(item['statement'])}</td>"
            f"<td>{_h(item.get('rationale', ''))}</td></tr>"
        )
    out.append('</table><h2>Tests that trace to no requirement</h2><ul id="untraced">')
    untraced = untraced_by_file(results)
    if not untraced:
        out.append("<li>None.</li>")
    out += [f"<li><code>{_h(path)}</code>: {count}</li>" for path, count in untraced]
    out.append("</ul></body></html>")
    return "\n".join(out) + "\n"


def write_report(results_path: Path, output_dir: Path) -> tuple[Path, Path, dict[str, Any]]:
    """Render both documents from a results file; return their paths and the results."""
    results = load_results(results_path)
    generated_at = dt.datetime.now(dt.UTC)
    output_dir.mkdir(parents=True, exist_ok=True)
    markdown = output_dir / "validation-report.md"
    page = output_dir / "validation-report.html"
    markdown.write_text(render_markdown(results, generated_at=generated_at), encoding="utf-8")
    page.write_text(render_html(results, generated_at=generated_at), encoding="utf-8")
    return markdown, page, results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--results", type=Path, default=DEFAULT_RESULTS, help="the results of a test run"
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=None,
        help="where to write the report (default: the results file's folder)",
    )
    args = parser.parse_args(argv)
    try:
        markdown, page, results = write_report(args.results, args.output_dir or args.results.parent)
    except ResultsError as exc:
        print(f"validation report: {exc}", file=sys.stderr)
        return 2
    for line in summary(results):
        print(line)
    gaps = results.get("gaps")
    if gaps:
        print("Requirements without a test: " + ", ".join(gaps))
    if results.get("failed"):
        print("Requirements with a failing test: " + ", ".join(results["failed"]))
    unproven = sorted(
        rid
        for rid, requirement in results["requirements"].items()
        if requirement["outcome"] not in {"passed", "failed", "gap"}
    )
    if unproven:
        print("Requirements whose tests did not all run and pass: " + ", ".join(unproven))
    print(f"Wrote {markdown} and {page}")
    return 1 if gaps or results.get("failed") or unproven else 0


if __name__ == "__main__":
    sys.exit(main())
