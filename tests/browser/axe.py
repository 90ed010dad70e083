"""WCAG 2.1 AA checks of a page in the real browser, by axe-core (the npm package locked in
package-lock.json, installed into node_modules by ``make test``).

The pages forbid inline and foreign scripts (Content-Security-Policy ``script-src 'self'``),
so ``page.add_script_tag`` is refused; axe's source is evaluated through the DevTools
protocol (``page.evaluate``), which the page's policy does not govern. The page keeps its
policy: what is checked is what a user gets.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

AXE_SOURCE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
REPORTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "accessibility"

#: The rule sets of WCAG 2.1 levels A and AA.
WCAG_21_AA = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa")
#: Impacts that fail a test; minor and moderate ones are written to the report only.
BLOCKING_IMPACTS = frozenset({"serious", "critical"})

RUN_AXE = """async tags => {
  const results = await axe.run(document, {
    runOnly: {type: 'tag', values: tags},
    resultTypes: ['violations'],
  });
  return results.violations.map(violation => ({
    id: violation.id,
    impact: violation.impact,
    help: violation.help,
    nodes: violation.nodes.map(node => ({
      target: node.target.map(String).join(' '),
      summary: node.failureSummary || '',
    })),
  }));
}"""


@dataclass(frozen=True)
class Violation:
    """One axe rule broken on a page, with the elements that break it."""

    rule: str
    impact: str
    help: str
    targets: tuple[str, ...]
    summaries: tuple[str, ...]

    @property
    def blocking(self) -> bool:
        return self.impact in BLOCKING_IMPACTS

    def describe(self, context: str) -> str:
        lines = [f"{context}: [{self.impact}] {self.rule}: {self.help}"]
        for target, summary in zip(self.targets, self.summaries, strict=True):
            detail = " ".join(summary.split())
            lines.append(f"    {target}" + (f"  ({detail})" if detail else ""))
        return "\n".join(lines)


@cache
def axe_source() -> str:
    """axe-core's source; a missing package fails the test (a check that did not run is
    not a pass)."""
    if not AXE_SOURCE.exists():
        pytest.fail(
            f"axe-core is not installed ({AXE_SOURCE} is missing): run `npm ci` "
            "(`make test` does it from package-lock.json)",
            pytrace=False,
        )
    return AXE_SOURCE.read_text(encoding="utf-8")


def axe_violations(page: Page) -> list[Violation]:
    """Every WCAG 2.1 A and AA violation axe finds on the page as it is now."""
    if not page.evaluate("typeof window.axe === 'object'"):
        # Evaluated as a script, not an expression: its value (the axe object) stays in the page.
        page.evaluate(f"{axe_source()}\n;undefined")
    found: list[dict[str, Any]] = page.evaluate(RUN_AXE, list(WCAG_21_AA))
    return [
        Violation(
            rule=item["id"],
            impact=item["impact"] or "",
            help=item["help"],
            targets=tuple(node["target"] for node in item["nodes"]),
            summaries=tuple(node["summary"] for node in item["nodes"]),
        )
        for item in found
    ]


def axe_problems(page: Page, *, context: str) -> list[str]:
    """The serious and critical WCAG 2.1 AA violations of the page, in words naming
    ``context``; every violation, blocking or not, goes to test-artifacts/accessibility/
    as JSON."""
    violations = axe_violations(page)
    REPORTS.mkdir(parents=True, exist_ok=True)
    name = "".join(c if c.isalnum() or c in "-_" else "_" for c in context)
    (REPORTS / f"{name}.json").write_text(
        json.dumps(
            {"context": context, "url": page.url, "violations": [asdict(v) for v in violations]},
            ensure_ascii=False,
            indent=1,
        ),
        encoding="utf-8",
    )
    return [v.describe(context) for v in violations if v.blocking]


def assert_accessible(page: Page, *, context: str) -> None:
    """Fail with the list of the page's serious and critical WCAG 2.1 AA violations (rule,
    what it asks, the elements); minor and moderate ones do not fail."""
    problems = axe_problems(page, context=context)
    assert not problems, "Serious or critical accessibility violations:\n" + "\n".join(problems)


def horizontal_overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than its window (0 when it fits)."""
    overflow: int = page.evaluate(
        "() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
        " - document.documentElement.clientWidth"
    )
    return max(overflow, 0)


def overflow_problems(page: Page, *, context: str) -> list[str]:
    """The page's sideways scrolling at its window's width, in words naming ``context``."""
    overflow = horizontal_overflow(page)
    if not overflow:
        return []
    width = page.evaluate("() => document.documentElement.clientWidth")
    return [f"{context}: the page scrolls sideways by {overflow} px at {width} px"]


def duplicate_id_problems(page: Page, *, context: str) -> list[str]:
    """Element ids used more than once on the page (WCAG 2.1, 4.1.1: a label or a
    reference then leads to the wrong element), in words naming ``context``. axe-core no
    longer checks this, as WCAG 2.2 dropped the criterion; WCAG 2.1 AA still has it."""
    repeated: dict[str, int] = page.evaluate(
        """() => {
          const counts = {};
          for (const element of document.querySelectorAll('[id]')) {
            counts[element.id] = (counts[element.id] || 0) + 1;
          }
          return Object.fromEntries(Object.entries(counts).filter(([, n]) => n > 1));
        }"""
    )
    return [f"{context}: the id {name!r} is used {n} times" for name, n in sorted(repeated.items())]
