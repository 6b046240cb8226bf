"""Text from staff and platforms is shown as text; platform links are shown as links only when
they point where the platform shows posts."""

from __future__ import annotations

import re

import pytest
from markdown_it import MarkdownIt

from dashboard.common import plain
from orchestrator.services.safe_links import checked_link
from tests.dashboard.conftest import (  # noqa: F401
    account,
    app,
    bare_engine,
    campaign,
    db_url,
    people,
    scheduled,
)

HOSTILE = [
    "[click](javascript:alert(1))",
    "[click](https://evil.example/phish)",
    "<img src=x onerror=alert(1)>",
    "**bold** and _em_ and `code` and ~~gone~~",
    "![pic](https://evil.example/p.png)",
    "<https://evil.example>",
    "<script>alert(1)</script>",
    "| a | b |\n|---|---|\n| 1 | 2 |",
    ":red[alarm] :material/warning:",
    "[ref]\n\n[ref]: https://evil.example",
    "&lt;b&gt;entity&lt;/b&gt;",
]


def render(text: str) -> str:
    """A CommonMark renderer that lets raw HTML through (the worst case), with tables and
    strike-through as in GitHub-style Markdown."""
    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"]).render(text)


@pytest.mark.parametrize("text", HOSTILE)
def test_plain_text_renders_without_markup(text: str) -> None:
    html = render(plain(text))
    for tag in ("<a ", "<img", "<strong", "<em", "<code", "<s>", "<del", "<script", "<table", "<b>"):
        assert tag not in html, (tag, html)


#: markdown-it (like Streamlit's renderer) already drops javascript: links, and knows nothing of
#: Streamlit's colours and icons (checked below); entities show as text either way; the rest are real.
@pytest.mark.parametrize("text", [h for h in HOSTILE if "javascript:" not in h and ":red" not in h and "&" not in h])
def test_the_unescaped_text_would_have_been_markup(text: str) -> None:
    """The cases are real: plain() changes how each one renders."""
    assert render(text) != render(plain(text))


def test_bare_addresses_are_not_turned_into_links() -> None:
    """GitHub-style Markdown links https://…, www.… and e-mail addresses without any markup."""
    shown = plain("see https://evil.example, WWW.evil.example and help@evil.example")
    assert "https://" not in shown and "www." not in shown.lower() and "help@" not in shown
    assert ":red[" not in plain(":red[alarm]")  # an icon shortcode may still show: harmless, no link


#: GitHub-style autolink literals as Streamlit's renderer finds them (remark-gfm's
#: mdast-util-gfm-autolink-literal): in the text of the parsed document, after backslash escapes
#: have been resolved, so escaping a character of an address does not keep it from being a link.
_AUTOLINK = re.compile(r"(https?://|www(?=\.))[-.\w]+|[-.\w+]+@[-\w]+(?:\.[-\w]+)+", re.IGNORECASE)
_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")


@pytest.mark.parametrize("text", ["see https://evil.example/a", "http://evil.example", "WWW.evil.example",
                                  "help@evil.example", "![](https://example.org/pixel.png)"])
def test_bare_addresses_stay_text_once_escapes_are_resolved(text: str) -> None:
    assert _AUTOLINK.search(text)  # the address alone would be a link
    assert not _AUTOLINK.search(_ESCAPE.sub(r"\1", plain(text))), plain(text)
    assert plain(text).replace("\\", "").replace("\u2060", "") == text  # and reads the same


def test_plain_keeps_the_words() -> None:
    text = "Écrivez pour Juan ! Rendez-vous 2025-12-10 à 12 h."
    assert plain(text).replace("\\", "") == text


@pytest.mark.parametrize(("url", "kind", "base", "sandbox"), [
    ("https://x.com/amnistie/status/1", "x", None, False),
    ("https://twitter.com/amnistie/status/1", "x", None, False),
    ("https://www.facebook.com/123_456", "facebook", None, False),
    ("https://bsky.app/profile/amnistie.ca/post/3k", "bluesky", None, False),
    ("https://mastodon.social/@amnistie/1", "mastodon", "https://mastodon.social", False),
    ("http://127.0.0.1:8765/x/status/1", "x", "http://127.0.0.1:8765", True),
])
def test_links_where_the_platform_shows_posts_pass(url: str, kind: str, base: str | None, sandbox: bool) -> None:
    assert checked_link(url, kind=kind, base_url=base, sandbox=sandbox) == url


@pytest.mark.parametrize(("url", "kind", "base", "sandbox"), [
    ("javascript:alert(1)", "x", None, False),
    ("data:text/html,<script>alert(1)</script>", "x", None, False),
    ("http://x.com/amnistie/status/1", "x", None, False),  # not https
    ("https://x.com.evil.example/status/1", "x", None, False),
    ("https://evil.example/x.com", "x", None, False),
    ("https://x.com@evil.example/", "x", None, False),
    ("https://x.com:8443/status/1", "x", None, False),
    ("https://facebook.com/1", "x", None, False),  # another platform's host
    ("https://mastodon.social/@a/1", "mastodon", "https://other.instance", False),
    ("https://x.com/a b", "x", None, False),
    ("https://x.com/\x00", "x", None, False),
    ("http://127.0.0.1:8765/x/status/1", "x", "http://127.0.0.1:8765", False),  # not a sandbox account
    ("http://127.0.0.1:9999/x/status/1", "x", "http://127.0.0.1:8765", True),  # another port
    ("", "x", None, False),
    (None, "x", None, False),
    ("https://x.com/" + "a" * 3000, "x", None, False),
])
def test_other_links_are_refused(url: str | None, kind: str, base: str | None, sandbox: bool) -> None:
    assert checked_link(url, kind=kind, base_url=base, sandbox=sandbox) is None


def _link_buttons(at) -> list[str]:  # type: ignore[no-untyped-def]
    return [element.proto.url for element in at.get("link_button")]


@pytest.mark.parametrize(("url", "linked"), [
    ("https://x.com/amnistie/status/1900", True),
    ("javascript:alert(1)", False),
    ("https://evil.example/phish", False),
])
def test_the_queue_links_only_checked_addresses(app, scheduled, url: str, linked: bool) -> None:  # noqa: F811
    scheduled(state="published", platform_url=url, last_error="**échec** <img src=x onerror=alert(1)>")
    at = app("edith", "queue")
    assert (url in _link_buttons(at)) is linked
    if not linked:
        assert url in [c.value for c in at.code]  # still shown, as text to copy
    warning = " ".join(w.value for w in at.warning)
    assert "\\*\\*échec\\*\\*" in warning and "\\<img" in warning
