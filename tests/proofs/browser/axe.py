"""axe-core in the dashboard's pages: the audit, and what it may not hold against the dashboard.

axe-core comes from the npm registry, pinned in package.json and package-lock.json and installed
by ``make test`` (``npm ci``) into node_modules/, from where the test injects it into each page.

Streamlit draws every page; a few of the elements it draws fail a WCAG 2.1 AA rule in ways the
dashboard's code cannot change (no option of the widget, no content of ours in it). Each such
case is listed here, by rule and by the narrowest CSS selector that holds only Streamlit's own
element, with why it cannot be fixed from the app; docs/accessibility.md lists the same, and a
test checks that the two lists agree. Any other serious or critical violation fails the test.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
#: WCAG 2.0 and 2.1, levels A and AA.
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
GRAVE = ("serious", "critical")


@dataclasses.dataclass(frozen=True)
class Waiver:
    rule: str
    selector: str
    element: str
    why: str


_NAV = "Streamlit's sidebar navigation (st.navigation with sections)"
_NAV_WHY = ("Streamlit puts each section's header and links in a <div> inside the <ul>, so the <ul> holds a "
            "<div> and the links' <li> are not its children; no option of st.navigation changes that markup. "
            "Only dropping the sections would, and staff find their way by them")
WAIVERS: list[Waiver] = [
    Waiver("list", '[data-testid="stSidebarNavItems"]', _NAV, _NAV_WHY),
    Waiver("listitem", '[data-testid="stSidebarNavItems"] li', _NAV, _NAV_WHY),
]


def missing_axe() -> str | None:
    if not AXE.exists():
        return (f"axe-core is not installed at {AXE.relative_to(ROOT)}: run `make test` (npm ci from "
                "package-lock.json; needs npm and the npm registry or npm's cache)")
    return None


_RUN = """async ([tags, waivers]) => {
  const result = await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
  const out = [];
  for (const v of result.violations) {
    if (!['serious', 'critical'].includes(v.impact)) continue;
    for (const node of v.nodes) {
      const target = node.target[node.target.length - 1];
      const el = typeof target === 'string' ? document.querySelector(target) : null;
      const waived = waivers.some(w => w.rule === v.id && el && el.closest(w.selector));
      out.push({rule: v.id, impact: v.impact, help: v.help, target: node.target.join(' '),
                html: node.html.slice(0, 300), summary: (node.failureSummary || '').slice(0, 300), waived});
    }
  }
  return out;
}"""


def audit(page: Any) -> list[dict[str, Any]]:
    """Every serious or critical WCAG 2.1 A/AA violation on the page as it is now, each marked
    ``waived`` when a waiver covers it."""
    if not page.evaluate("() => typeof axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    waivers = [dataclasses.asdict(w) for w in WAIVERS]
    return list(page.evaluate(_RUN, [TAGS, waivers]))


def describe(found: Any) -> str:
    return json.dumps(found, ensure_ascii=False, indent=1)
