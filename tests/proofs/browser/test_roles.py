"""A day's work of each role in headless Chromium, on the sandbox's four platforms:

- an approver pauses a case when news arrives and resumes it, and retries a failed delivery;
- an editor brings in a week's plan and a petition tool's export from the pages;
- a viewer follows the overview of the edition in progress, and reads a finished edition's results;
- an admin looks at the accounts, the people and the audit log.

Every action's result must show on the page right after the click, without reloading it (a
reload would also sign the person out: Streamlit keeps the session in the open connection).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.numbers import format_decimal

from orchestrator.states import LABELS
from tests.proofs.browser.conftest import ACCOUNTS, PEOPLE, Site
from tests.proofs.browser.journal import (
    approved_delivery,
    bring_forward,
    count_rows,
    current_campaign_in,
    delivery_state,
    finished_campaign,
    posts_with,
    sandbox_posts,
    states_of,
    wait_for,
)
from tests.proofs.browser.screen import Screen

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

X_POST = r"^/2/tweets$"


def test_an_approver_pauses_and_resumes_a_case_and_retries_a_failed_delivery(site: Site, screen: Screen) -> None:
    engine = site.engine()
    queued = approved_delivery(engine, case="damisoa", account="bluesky-fr",
                               text="Damisoa et les familles de Vohitsara ont besoin d'aide : écrivez.")
    # X refuses the next post as it stands (a 400 is final): the delivery fails for good.
    site.sandbox.add_fault("error", platform="x", method="POST", path=X_POST, status=400)
    failing = approved_delivery(engine, case="sai-zaw-thaike", account="x-fr", in_seconds=1,
                                text="Sai Zaw Thaike a été condamné pour avoir fait son métier de journaliste.")
    wait_for(lambda: delivery_state(engine, failing), lambda s: s == "failed", timeout=30,
             what="the delivery X refused")

    screen.sign_in("amir")
    screen.open("cases")
    # News arrives: the case is paused with a reason; what was queued for it is held at once.
    screen.page.locator("summary", has_text="Damisoa").first.click()
    screen.fill("case_reason_damisoa", "Nouvelles de la famille : on attend la confirmation.")
    screen.keyed("case_pause_damisoa").get_by_role("button").click()
    screen.shows(screen.t("cases.paused", name="Damisoa", n=1))
    screen.settle()
    assert delivery_state(engine, queued) == "held"
    summary = screen.page.locator("summary", has_text="Damisoa").first.inner_text()
    assert screen.t("case.status.paused") in summary, f"the case's header still says {summary!r}"
    screen.shoot("07-cas")
    # Resumed: the held delivery goes back in the queue.
    screen.fill("case_note_damisoa", "Confirmé : on reprend.")
    screen.keyed("case_resume_damisoa").get_by_role("button").click()
    screen.shows(screen.t("cases.resumed", name="Damisoa", n=1))
    screen.settle()
    assert delivery_state(engine, queued) == "scheduled"
    summary = screen.page.locator("summary", has_text="Damisoa").first.inner_text()
    assert screen.t("case.status.active") in summary, f"the case's header still says {summary!r}"

    # The failed delivery, retried from the queue: the new state shows at once, then it goes out.
    screen.open("queue")
    screen.choose("queue_pick", f"#{failing} · {LABELS['failed'][screen.lang]}")
    screen.keyed(f"queue_retry_{failing}").get_by_role("button").click()
    screen.shows(screen.t("queue.retried"))
    screen.settle()
    # The delivery's state under the chooser, at once: retrying, or already on its way or out.
    shown = screen.keyed("queue_pick").locator("xpath=following::*[contains(@class, 'stMarkdown')][1]").inner_text()
    assert any(LABELS[s][screen.lang] in shown for s in ("retrying", "publishing", "published")), (
        f"after the retry the queue shows {shown!r}")
    wait_for(lambda: delivery_state(engine, failing), lambda s: s == "published", timeout=30,
             what="the retried delivery")
    assert len(sandbox_posts(site.sandbox, "x", "Sai Zaw Thaike")) == 1
    bring_forward(engine, [queued])  # the resumed case's post goes out as planned
    wait_for(lambda: delivery_state(engine, queued), lambda s: s == "published", timeout=30,
             what="the resumed case's delivery")


def test_an_editor_brings_in_a_plan_and_a_responses_file(site: Site, screen: Screen, tmp_path: Path) -> None:
    engine = site.engine()
    at = (dt.datetime.now(dt.UTC) + dt.timedelta(days=3)).replace(microsecond=0).isoformat()
    plan = tmp_path / "plan-semaine.csv"
    text = "Plan de la semaine : écrivez pour Ellinor Guttorm Utsi et les pâturages sámis de Čorgaš."
    plan.write_text("cas;langue;texte;lien;compte;quand\n" + "".join(
        f"ellinor-guttorm-utsi;fr;{text};https://amnistie.ca/ecrire;{name};{at}\n" for _, name in ACCOUNTS),
        encoding="utf-8")
    export = tmp_path / "petition.csv"
    # A petition tool's export of the last days, with a personal-data column, which is dropped unread.
    today = dt.datetime.now(ZoneInfo(current_campaign_in(engine).timezone)).date()
    export.write_text("cas,type,nombre,date,source,courriel\n"
                      f"juan-lopez,lettre,120,{today - dt.timedelta(days=2)},petition-web,a.b@example.org\n"
                      f"Damisoa,signature,75,{today - dt.timedelta(days=1)},petition-web,c.d@example.org\n",
                      encoding="utf-8")
    responses_before = count_rows(engine, "response")

    screen.sign_in("edith")
    screen.open("bulk")
    screen.upload("bulk_file_0", plan)
    screen.shows(screen.t("bulk.confirm"))  # every line checked, nothing saved yet
    assert posts_with(engine, "Plan de la semaine") == []
    screen.shoot("12-importer-un-plan")
    screen.button("bulk.confirm").click()
    # The confirmation says what was saved, at once (the summary of the import).
    screen.page.locator('[data-testid="stMain"] [data-testid="stAlertContentSuccess"]').first.wait_for()
    screen.settle()
    posts = wait_for(lambda: posts_with(engine, "Plan de la semaine"), lambda p: len(p) >= 1, timeout=10,
                     what="the plan's posts")
    assert {p.status for p in posts} == {"pending"}, "an imported post skipped approval"
    assert sorted(states_of(engine, [p.id or 0 for p in posts])) == sorted(name for _, name in ACCOUNTS)
    assert screen.keyed("bulk_file_0").count() == 0, "the saved file is still offered for saving"

    screen.open("responses")
    screen.page.get_by_role("tab", name=screen.t("responses.tab.import")).click()
    screen.upload("import_file", export)
    screen.keyed("import_check").get_by_role("button").click()
    screen.settle()
    screen.keyed("import_go").wait_for()  # the report, before anything is saved
    assert count_rows(engine, "response") == responses_before
    screen.shoot("13-reponses")
    screen.keyed("import_go").get_by_role("button").click()
    screen.shows(screen.t("responses.import.done"))
    assert count_rows(engine, "response") == responses_before + 2
    assert count_rows(engine, "response", "count = :n AND source_type = 'import'", n=120) == 1
    with engine.connect() as conn:  # nothing personal kept anywhere
        dump = "\n".join(conn.connection.iterdump())  # type: ignore[attr-defined]
    assert "example.org" not in dump


def test_a_viewer_follows_the_overview(site: Site, screen: Screen) -> None:
    screen.sign_in("victor")
    screen.settle()
    main = screen.main_text()
    assert screen.t("overview.progress") in main
    assert screen.t("overview.no_worker") not in main, "the overview says no worker is alive"
    assert screen.t_words("overview.worker_ok") in main
    progress = screen.page.locator('[data-testid="stMain"] [role="progressbar"]')
    assert progress.count() >= 8, "the overview shows no goal bar per case"
    screen.shoot("01-vue-d-ensemble")
    # A viewer reads and acts on nothing: no admin page, and pages that act say so.
    nav = screen.page.locator('[data-testid="stSidebarNav"]').inner_text()
    assert screen.t("nav.users") not in nav and screen.t("nav.audit") not in nav
    screen.open("compose")
    screen.shows(screen.t("common.read_only"))
    assert screen.page.get_by_role("button", name=screen.t("compose.submit")).count() == 0


def test_a_finished_edition_shows_its_results(site: Site, screen: Screen) -> None:
    """An edition whose last day is behind it: the overview shows its bilan (actions against the
    goal, what was published and what it earned), not countdowns and pace."""
    campaign, bilan = finished_campaign(site.engine(), letters=1234)
    screen.sign_in("victor")
    screen.choose("campaign_id", campaign.name["fr"])
    screen.shows(screen.t("overview.results"))
    screen.settle()
    main = _spaces(screen.main_text())
    assert screen.t_words("overview.finished") in main
    assert screen.t("overview.progress") not in main, "a finished edition still shows its pace"
    assert _spaces(format_decimal(bilan["actions"], locale="fr_CA")) in main, (
        f"the bilan does not say {bilan['actions']} actions:\n{main}")
    assert bilan["actions"] >= 1234
    screen.shoot("19-bilan")


def _spaces(text: str) -> str:
    return text.replace("\u202f", " ").replace("\u00a0", " ")


def test_an_admin_reads_the_accounts_the_people_and_the_audit_log(site: Site, screen: Screen) -> None:
    screen.sign_in("ada")
    screen.open("channels")
    main = screen.main_text()
    for kind, name in ACCOUNTS:
        assert name in main, f"{name} ({kind}) is not on the accounts page"
    screen.shoot("08-comptes")
    screen.open("users")
    screen.keyed("users_pick").click()
    options = screen.page.get_by_role("listbox").inner_text()
    screen.page.keyboard.press("Escape")
    for username in PEOPLE:
        assert username in options
    screen.shoot("10-personnes")
    screen.open("audit")
    screen.keyed("audit_action").click()
    actions = screen.page.get_by_role("listbox").inner_text()
    screen.page.keyboard.press("Escape")
    assert actions.strip(), "the audit log offers no action to filter on"
    screen.shoot("11-journal")
    screen.open("exports")
    screen.shoot("09-exports")


def test_an_approver_who_wrote_a_post_is_told_why_and_offered_no_approve_button(site: Site, screen: Screen) -> None:
    """Four eyes as the approver sees it: their own post is on the Approvals page with the reason
    they cannot approve it, in their language, and no « Approuver » button beside it."""
    text = "Ellinor Guttorm Utsi défend les terres des Samis : écrivez au gouvernement norvégien."
    screen.sign_in("amir")
    screen.open("compose")
    screen.fill("compose_text", text)
    screen.choose("compose_accounts", "bluesky-fr")
    screen.button("compose.submit").click()
    screen.shows(screen.t_words("compose.saved_submitted"))
    (post,) = posts_with(site.engine(), "Ellinor Guttorm Utsi défend")
    assert (post.status, post.author) == ("pending", "amir")

    screen.open("approvals")
    screen.shows(screen.t("approvals.yours"))
    # the innermost block with this post's number: its card, which says why
    card = screen.page.locator('[data-testid="stVerticalBlock"]',
                               has_text=screen.t("compose.post_number", id=post.id)).last
    assert screen.t("approvals.yours") in card.inner_text()
    assert screen.keyed(f"approve_{post.id}").count() == 0, "Approvals offers its author an approve button"
    assert card.get_by_role("button", name=screen.t("approvals.approve")).count() == 0

    screen.switch_language("en")
    screen.shows(screen.t("approvals.yours"))
    assert screen.keyed(f"approve_{post.id}").count() == 0
