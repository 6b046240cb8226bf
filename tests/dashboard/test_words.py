"""Every word a staff member reads is in their language: no field name, no raw code, no command
line, numbers written one way (issue 15, defect 13), on the pages where each used to show."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from channels.registry import KINDS, channel_class
from orchestrator import db
from orchestrator.services.accounts import CREDENTIALS
from tests.dashboard.conftest import APP
from tests.dashboard.helpers import texts
from tests.dashboard.test_page_matrix import shown_cells
from tests.factories import make_account

SCRIPT = Path(__file__).resolve().parents[2] / "dashboard" / "streamlit_words.js"


@pytest.mark.parametrize("lang", ["fr", "en"])
@pytest.mark.parametrize("kind", list(CREDENTIALS))
def test_every_credential_field_has_a_label_and_help(app, kind, lang):
    at = app("ada", "channels", lang=lang)
    at.selectbox(key="acct_new_kind").set_value(kind).run()
    fields = {w.key.removeprefix("acct_new_cred_"): w for w in at.text_input if w.key.startswith("acct_new_cred_")}
    assert sorted(fields) == sorted(CREDENTIALS[kind])
    for name, widget in fields.items():
        assert widget.label and widget.label != name and "_" not in widget.label, widget.label
        assert widget.help and len(widget.help) > 20, (name, widget.help)
    labels = [w.label for w in fields.values()]
    assert len(set(labels)) == len(labels)
    assert at.selectbox(key="acct_new_kind").options == [channel_class(k).platform_name for k in KINDS]


def test_accounts_show_their_platform_server_and_languages_in_words(app, bare_engine):
    with db.session_scope(bare_engine) as s:  # no language: it posts in both
        make_account(s, "mastodon", name="masto", language=None, base_url="https://mastodon.example.org")
    at = app("victor", "channels")
    labels = "\n".join(e.label for e in at.expander)
    assert "masto · Mastodon · en santé" in labels and "· mastodon ·" not in labels
    shown = texts(at)
    assert "langue : les deux langues" in shown and "mastodon.example.org" in shown
    assert "None" not in shown


def test_an_incomplete_account_is_refused_in_words(app, bare_engine):
    at = app("ada", "channels")
    at.text_input(key="acct_new_name").input("x-test")
    at.text_input(key="acct_new_cred_consumer_key").input("k")
    at.button(key="FormSubmitter:acct_new-Ajouter").click().run()
    message = at.error[0].value
    assert "Identifiants incomplets pour X" in message and "jeton OAuth 2" in message
    assert "bearer_token" not in message and "consumer_key" not in message


def test_solidarity_kinds_are_words(app):
    at = app("edith", "cases")
    assert at.selectbox(key="case_form__new_kind").options == ["Lettre", "Carte", "Dessin", "Photo", "Message"]
    assert "Type de message de solidarité: letter" not in texts(at)
    assert any("messages de solidarité : " in c.value for c in at.caption)
    at = app("edith", "cases", lang="en")
    assert at.selectbox(key="case_form__new_kind").options == ["Letter", "Card", "Drawing", "Photo", "Message"]


def test_the_series_preview_shows_no_command_line(app, account):
    at = app("edith", "series")
    at.date_input(key="series_start").set_value(dt.date(2030, 12, 1))
    at.date_input(key="series_end").set_value(dt.date(2030, 12, 2))
    at.multiselect(key="series_accounts").set_value([account])
    at.selectbox(key="series_template").set_value("lettre-fr")
    at.run()
    at.button(key="series_preview").click().run()
    assert len(at.dataframe[0].value) == 2
    assert "porte-voix" not in texts(at) and not at.code
    assert "juan-lopez" not in at.dataframe[0].value.to_csv()  # cases by their names


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_no_command_line_on_the_sign_in_or_editions_pages(people, campaign, app, lang):
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["lang"] = lang
    at.run()
    assert "porte-voix" not in texts(at)
    assert any("Personnes" in c.value or "People" in c.value for c in at.caption)  # where accounts are made
    at = app("ada", "campaigns", lang=lang)
    assert "porte-voix" not in texts(at)


def test_an_edition_is_downloaded_as_its_folder(app):
    import io
    import zipfile

    from orchestrator.services.campaign_admin import campaign_zip

    at = app("ada", "campaigns")
    at.button(key="edition_folder").click().run()
    assert not at.exception and not at.error
    assert any(b.key == "edition_folder_download" for b in at.get("download_button"))
    with db.session_scope(db.get_engine()) as s:
        from orchestrator.services.campaigns import current_campaign

        data = campaign_zip(s, campaign_id=current_campaign(s).id)  # type: ignore[arg-type]
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert "ecrire-2025/campaign.yaml" in names and any(n.startswith("ecrire-2025/cases/") for n in names)


@pytest.mark.parametrize(("lang", "written"), [("fr", "12\xa0027"), ("en", "12,027")])
def test_figures_in_tables_are_written_the_reader_s_way(app, bare_engine, lang, written):
    from orchestrator.services.auth import Actor
    from orchestrator.services.responses import record_tally

    with db.session_scope(bare_engine) as s:
        record_tally(s, actor=Actor("edith", "editor"), case_slug="juan-lopez", kind="letter", count=12027,
                     day=dt.date(2025, 12, 6))
    at = app("victor", "responses", lang=lang)
    by_case = shown_cells(at.dataframe[0])
    assert written in by_case and 12027 not in by_case and "12027" not in by_case


def test_the_uploader_script_knows_every_word_and_holds_no_tag():
    from dashboard.common import WORD_KEYS

    script = SCRIPT.read_text(encoding="utf-8")
    # The sanitizer in front of st.html drops a script whose text looks like it holds a tag.
    assert not re.search(r"<[/\w!]", script)
    used = set(re.findall(r"words\.([a-z_]+)", script)) - {"lang"}
    assert used == set(WORD_KEYS)
    assert "__WORDS__" in script


@pytest.mark.parametrize(("lang", "button"), [("fr", "Choisir un fichier"), ("en", "Choose a file")])
def test_every_page_carries_the_uploader_words_in_the_reader_s_language(app, lang, button):
    at = app("edith", "bulk", lang=lang)
    bodies = [h.proto.body for h in at.get("html")]
    carried = [b for b in bodies if "porteVoixWords" in b]
    assert len(carried) == 1 and f'"lang": "{lang}"' in carried[0] and button in carried[0]
    assert "<" not in carried[0][len("<script>"):-len("</script>")]


def test_only_the_words_script_runs_in_the_page():
    """The one script the dashboard runs is ours and constant: no page may run another."""
    dashboard = SCRIPT.parent
    users = {p.relative_to(dashboard).as_posix(): p.read_text(encoding="utf-8").count("unsafe_allow_javascript=True")
             for p in dashboard.rglob("*.py")}
    assert {k: v for k, v in users.items() if v} == {"common.py": 1}


TIMED_PAGES = ("overview", "queue", "approvals", "posts", "series", "cases", "channels", "users", "bulk", "counter",
               "audit", "campaigns", "calendar")


@pytest.mark.parametrize(("lang", "zone"), [("fr", "heure de l’Est"), ("en", "Eastern Time")])
def test_every_page_with_times_names_their_time_zone_in_words(app, lang, zone):
    for page in TIMED_PAGES:
        at = app("ada", page, lang=lang)
        shown = texts(at)
        assert zone in shown, page
        assert "America/Toronto" not in shown.replace("(America/Toronto)", ""), page


@pytest.mark.parametrize(("lang", "french", "english"), [("fr", "Français", "Anglais"), ("en", "French", "English")])
def test_a_text_s_language_is_named_in_the_reader_s_words(app, account, lang, french, english):
    """A post's, a template's or a case text's language reads « Anglais » in French, not
    "English" (the language switch alone names each language in itself)."""
    series = app("ada", "series", lang=lang)
    assert series.radio(key="series_language").options == [french, english]
    templates = app("ada", "templates", lang=lang)
    assert f"· {english}" in texts(templates)
    cases = app("ada", "cases", lang=lang)
    languages = [w.label for w in cases.text_input] + [w.label for w in cases.text_area]
    assert any(label.endswith(f" · {english}") for label in languages), languages
    if lang == "fr":
        for at in (series, templates, cases):
            assert "English" not in texts(at) + "\n".join(w.label for w in at.text_input)


def test_the_author_is_named_in_both_genders_wherever_french_names_them():
    """« l'autrice ou l'auteur », as every other French word for a post's writer reads."""
    from dashboard.strings import STRINGS

    one_gender = [key for key, entry in STRINGS.items()
                  if re.search(r"\bauteur\b", entry["fr"]) and "autrice" not in entry["fr"]]
    assert not one_gender, one_gender


@pytest.mark.parametrize("kind", list(CREDENTIALS))
def test_the_account_form_is_the_channels_declaration(app, kind):
    """The form's fields are those the platform's channel declares, in its words, in English too,
    and only a secret is typed in a password field (a Page's id or a handle is shown as typed)."""
    from channels.registry import channel_class

    at = app("ada", "channels", lang="en")
    at.selectbox(key="acct_new_kind").set_value(kind).run()
    widgets = {w.key.removeprefix("acct_new_cred_"): w for w in at.text_input if w.key.startswith("acct_new_cred_")}
    for field in channel_class(kind).credential_fields:
        widget = widgets[field.name]
        assert widget.label == field.label("en") and widget.help == field.help_en
        assert widget.proto.type == (widget.proto.PASSWORD if field.secret else widget.proto.DEFAULT), field.name
