"""axe-core (vendored from npm, tests/e2e/vendor/) run inside a Playwright page.

`assert_no_serious_axe_violations(page)` injects axe and fails listing every violation whose
impact is "serious" or "critical" (axe's impact scale: minor, moderate, serious, critical,
https://github.com/dequelabs/axe-core/blob/develop/doc/API.md#results-object).

The app's Content-Security-Policy (script-src 'self') would block an injected <script> with
inline text, so axe's source is evaluated through Playwright's `page.evaluate`, which runs in
the page over the DevTools protocol (Runtime.evaluate) and is not governed by the page's CSP.
The rules run are WCAG 2.0/2.1 A and AA plus axe's best practices (runOnly tags, axe API
"Options Parameter"); colour contrast is `color-contrast` (WCAG 1.4.3, 4.5:1 / 3:1 large).
"""

from __future__ import annotations

from pathlib import Path

AXE_SOURCE = Path(__file__).resolve().parent / "vendor" / "axe-4.10.3.min.js"
SERIOUS = ("serious", "critical")
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]

_RUN = """async (tags) => {
  const results = await window.axe.run(document, {
    runOnly: {type: "tag", values: tags},
    resultTypes: ["violations"],
  });
  return results.violations.map((v) => ({
    id: v.id,
    impact: v.impact,
    help: v.help,
    nodes: v.nodes.map((n) => ({
      target: n.target.join(" "),
      summary: n.failureSummary,
      html: n.html.slice(0, 200),
    })),
  }));
}"""


def _inject(page) -> None:
    if not page.evaluate("() => typeof window.axe === 'object'"):
        # The source defines window.axe when evaluated as a script body (UMD wrapper).
        page.evaluate(AXE_SOURCE.read_text(encoding="utf-8") + "\n;undefined")


def axe_violations(page, *, impacts=SERIOUS, tags=WCAG_TAGS) -> list[dict]:
    """Violations found by axe on the page as it is now, limited to the given impacts."""
    _inject(page)
    violations = page.evaluate(_RUN, tags)
    return [v for v in violations if v["impact"] in impacts]


def format_violations(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        lines.append(f"[{v['impact']}] {v['id']}: {v['help']}")
        for node in v["nodes"][:10]:
            lines.append(f"    at {node['target']}: {node['html']}")
            if node["summary"]:
                lines.append("      " + node["summary"].replace("\n", "\n      "))
    return "\n".join(lines)


def assert_no_serious_axe_violations(page, where: str = "") -> None:
    """Fail listing every serious or critical axe violation on the page."""
    violations = axe_violations(page)
    if violations:
        raise AssertionError(
            f"axe-core found serious/critical violations on {where or page.url}:\n"
            + format_violations(violations)
        )
