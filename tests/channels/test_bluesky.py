"""Promises of the Bluesky channel, kept through the real atproto client against the sandbox PDS."""

from __future__ import annotations

import datetime as dt
import math
import socket
import time

import pytest
from atproto import Client
from atproto_client import exceptions as at_exc
from atproto_client.models.string_formats import TID_RE

from channels.base import (
    AccountConfig,
    AmbiguousError,
    AuthError,
    Image,
    LinkCard,
    PermanentError,
    PublishRequest,
    RateLimited,
    TransientError,
)
from channels.bluesky import BlueskyChannel, record_key_for
from channels.sandbox.bluesky import make_jwt

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 2000
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 3000
HANDLE = "ecrire.bsky.social"
CREDENTIALS = {"handle": HANDLE, "app_password": "abcd-efgh-ijkl-mnop"}


def channel(sandbox, timeout: float = 5.0, **credentials: str) -> BlueskyChannel:
    account = AccountConfig(
        "bluesky", "main", credentials or dict(CREDENTIALS), base_url=sandbox.url
    )
    return BlueskyChannel(account, timeout=timeout)


def posts(sandbox) -> list[dict]:
    return sandbox.sandbox.posts("bluesky")


def calls(sandbox, nsid: str) -> int:
    return sandbox.sandbox.calls("bluesky", nsid)


def request(
    key: str = "delivery-1", text: str = "Écrivez pour les droits #EcrireCaLibere", **kw
) -> PublishRequest:
    return PublishRequest(key=key, text=text, **kw)


# -- publishing ------------------------------------------------------------------------------


def test_it_publishes_text_link_and_images_with_alt(sandbox):
    bsky = channel(sandbox)
    link = "https://www.amnesty.fr/ecrire-ca-libere/agir?utm_source=bluesky&utm_campaign=2025"
    images = (
        Image(PNG, "image/png", "Une lettre manuscrite"),
        Image(JPEG, "image/jpeg", "Des bougies"),
    )

    published = bsky.publish(request(link=link, images=images, language="fr"))

    [post] = posts(sandbox)
    assert published.platform_id == post["id"]
    assert published.url == f"https://bsky.app/profile/{HANDLE}/post/{post['rkey']}"
    assert post["text"].startswith("Écrivez pour les droits #EcrireCaLibere\n\namnesty.fr/")
    assert post["alts"] == ["Une lettre manuscrite", "Des bougies"]
    assert post["embed"] == "app.bsky.embed.images"
    assert post["langs"] == ["fr"]
    assert [f["features"][0].get("uri") for f in post["facets"]] == [None, link]
    assert calls(sandbox, "uploadBlob") == 2


def test_it_shows_the_link_card_with_its_thumb_when_there_is_no_image(sandbox):
    link = "https://amnesty.fr/petition?pv=abc1234"
    card = LinkCard("Libérez Juan López", "Défenseur de l'eau", Image(JPEG, "image/jpeg", alt=""))
    channel(sandbox).publish(request(text="Signez", link=link, card=card))

    [post] = posts(sandbox)
    assert post["embed"] == "app.bsky.embed.external"
    assert post["link"] == link
    assert post["text"] == "Signez\n\namnesty.fr/petition?pv=abc1234"
    external = post["card"]
    assert (external["title"], external["description"]) == ("Libérez Juan López", "Défenseur de l'eau")
    assert external["thumb"]["mimeType"] == "image/jpeg" and external["thumb"]["size"] == len(JPEG)
    assert external["thumb"]["ref"]["$link"] in sandbox.sandbox.emulator("bluesky").blobs
    assert calls(sandbox, "uploadBlob") == 1
    # what the PDS stored reads back as the lexicon's own models (app.bsky.feed.post, embed.external)
    from atproto_client import models
    from atproto_client.models.utils import get_or_create

    stored = get_or_create({"$type": "app.bsky.feed.post", **post["record"]}, models.AppBskyFeedPost.Record,
                           strict=True)
    assert isinstance(stored.embed, models.AppBskyEmbedExternal.Main)
    assert stored.embed.external.thumb.mime_type == "image/jpeg"


def test_a_card_without_thumb_uploads_nothing(sandbox):
    channel(sandbox).publish(request(text="Signez", link="https://amnesty.fr/a", card=LinkCard("Agir", "")))

    [post] = posts(sandbox)
    assert post["card"]["title"] == "Agir" and "thumb" not in post["card"]
    assert calls(sandbox, "uploadBlob") == 0


def test_without_a_card_the_link_stays_a_plain_link(sandbox):
    """The page could not be read: no card saying only the domain, the link's facet is enough."""
    link = "https://amnesty.fr/petition"
    channel(sandbox).publish(request(text="Signez", link=link))

    [post] = posts(sandbox)
    assert post["embed"] is None
    assert post["text"] == "Signez\n\namnesty.fr/petition"
    assert [f["features"][0]["uri"] for f in post["facets"]] == [link]


def test_images_win_over_the_card_since_a_record_has_one_embed(sandbox):
    link = "https://amnesty.fr/petition"
    card = LinkCard("Agir", "", Image(JPEG, "image/jpeg", alt=""))
    channel(sandbox).publish(request(text="Signez", link=link, card=card,
                                     images=(Image(PNG, "image/png", alt="Des bougies"),)))

    [post] = posts(sandbox)
    assert post["embed"] == "app.bsky.embed.images" and post["card"] is None
    assert post["alts"] == ["Des bougies"]
    assert calls(sandbox, "uploadBlob") == 1  # the thumb is not even sent
    assert [f["features"][0]["uri"] for f in post["facets"]] == [link]


def test_the_emulator_refuses_a_thumb_it_never_received_or_too_big(sandbox):
    emulator = sandbox.sandbox.emulator("bluesky")
    record = {"text": "x", "createdAt": "2026-12-05T00:00:00Z",
              "embed": {"$type": "app.bsky.embed.external", "external": {
                  "uri": "https://a.example/", "title": "t", "description": "d",
                  "thumb": {"$type": "blob", "ref": {"$link": "bafkunknown"}, "mimeType": "image/jpeg", "size": 1}}}}
    refused = emulator._check_post(record)
    assert refused is not None and "Could not find blob" in refused.body["message"]
    emulator.blobs["bafkbig"] = {"mimeType": "image/jpeg", "size": 1_000_001}
    record["embed"]["external"]["thumb"]["ref"]["$link"] = "bafkbig"
    assert "too big" in emulator._check_post(record).body["message"]


def test_it_turns_links_and_hashtags_into_facets_with_byte_offsets(sandbox):
    text = "Déjà 🕯️ signé ? https://amnesty.fr/agir et #LibérezLes !"
    channel(sandbox).publish(request(text=text))

    [post] = posts(sandbox)
    raw = post["text"].encode("utf-8")
    spans = {
        raw[f["index"]["byteStart"] : f["index"]["byteEnd"]].decode(): f["features"][0]
        for f in post["facets"]
    }
    assert spans["amnesty.fr/agir"]["uri"] == "https://amnesty.fr/agir"
    assert spans["#LibérezLes"]["tag"] == "LibérezLes"


def test_it_shows_long_links_short_and_counts_them_that_way(sandbox):
    link = "https://amnistie.ca/ecrire-ca-libere/cas/juan-lopez?source=ab2cd3e&utm_source=bluesky&utm_medium=social&utm_campaign=ecrire-2025&utm_content=juan-lopez"
    text = "x" * 260 + " " + link
    bsky = channel(sandbox)
    result = bsky.validate(text)
    assert result.valid, result.problems  # the full link alone would pass 300 graphemes
    assert result.length == 261 + 30
    bsky.publish(request(text=text))
    [post] = posts(sandbox)
    assert link not in post["text"] and post["text"].endswith("…")
    [facet] = [f for f in post["facets"] if "uri" in f["features"][0]]
    assert facet["features"][0]["uri"] == link  # the tracking fields survive in the target


def test_it_does_not_append_a_link_already_in_the_text(sandbox):
    link = "https://amnesty.fr/agir"
    channel(sandbox).publish(request(text=f"Agissez : {link}", link=link))

    assert posts(sandbox)[0]["text"] == "Agissez : amnesty.fr/agir"


def test_it_never_publishes_twice_for_the_same_key(sandbox):
    bsky = channel(sandbox)
    first = bsky.publish(request(key="same"))
    again = channel(sandbox).publish(request(key="same", text="Texte corrigé"))

    assert again.platform_id == first.platform_id
    assert len(posts(sandbox)) == 1
    assert calls(sandbox, "createRecord") == 2  # the second one was refused by the PDS...
    assert calls(sandbox, "getRecord") == 1  # ...and settled by reading the record back


def test_record_keys_are_stable_valid_tids():
    keys = [f"delivery-{i}" for i in range(500)]
    derived = [record_key_for(k) for k in keys]

    assert derived == [record_key_for(k) for k in keys]
    assert len(set(derived)) == len(keys)
    assert all(TID_RE.match(k) for k in derived)  # atproto's own TID syntax


# -- length and content ----------------------------------------------------------------------


def test_it_counts_length_the_platform_way(sandbox):
    bsky = channel(sandbox)
    family = "👨‍👩‍👧‍👦"  # one grapheme, seven code points, 25 bytes

    assert bsky.validate("é" * 300).valid
    too_long = bsky.validate("é" * 301)
    assert (too_long.length, too_long.limit, too_long.valid) == (301, 300, False)
    assert "301" in too_long.problems[0].fr
    heavy = bsky.validate(family * 121)  # 121 graphemes but 3025 bytes
    assert heavy.length == 121
    assert [p.code for p in heavy.problems] == ["too_long"]
    assert "octets" in heavy.problems[0].fr


def test_the_appended_link_counts_in_the_length(sandbox):
    bsky = channel(sandbox)
    text = "a" * 290
    link = "https://amnesty.fr/une/adresse/assez/longue"

    assert bsky.validate(text).valid
    assert not bsky.validate_request(request(text=text, link=link)).valid
    with pytest.raises(PermanentError):
        bsky.publish(request(text=text, link=link))


def test_the_emulator_refuses_what_the_pds_refuses(sandbox):
    client = Client(sandbox.url)
    client.login(HANDLE, "pw")
    with pytest.raises(at_exc.BadRequestError) as refused:
        client.send_post("x" * 301)
    assert "must not be longer than 300 graphemes" in str(refused.value)
    client.send_post("x" * 300)  # the limit itself is accepted


def test_it_rejects_invalid_content_as_permanent(sandbox):
    bsky = channel(sandbox)
    bad = (Image(PNG, "image/png", ""), Image(b"x" * 1_000_001, "image/jpeg", "trop lourde"))

    with pytest.raises(PermanentError) as refused:
        bsky.publish(request(images=bad + bad + bad))

    assert "texte alternatif" in refused.value.message_fr
    assert "au plus 4" in refused.value.message_fr
    assert calls(sandbox, "") == 0  # refused before any network call


def test_it_reports_a_refusal_of_the_pds_as_permanent_in_french(sandbox):
    account = AccountConfig(
        "bluesky", "main", CREDENTIALS, base_url=sandbox.url, options={"max_graphemes": 1000}
    )
    with pytest.raises(PermanentError) as refused:
        BlueskyChannel(account).publish(request(text="a" * 400))

    assert refused.value.platform_code == "InvalidRequest"
    assert "graphèmes" in refused.value.message_fr
    assert posts(sandbox) == []


# -- metrics ---------------------------------------------------------------------------------


def test_it_batches_metrics_in_minimum_calls(sandbox):
    bsky = channel(sandbox)
    ids = [bsky.publish(request(key=f"m{i}", text=f"Post {i}")).platform_id for i in range(30)]
    sandbox.sandbox.advance(6 * 3600)

    metrics = bsky.fetch_metrics(ids)

    assert calls(sandbox, "getPosts") == math.ceil(30 / bsky.metrics_batch_size) == 2
    assert [m.platform_id for m in metrics] == ids
    assert all(m.likes and m.likes > 0 for m in metrics)
    assert all(
        m.shares is not None and m.replies is not None and m.quotes is not None for m in metrics
    )
    assert all(m.views is None for m in metrics)  # Bluesky publishes no view count


def test_metrics_grow_over_time(sandbox):
    bsky = channel(sandbox)
    uri = bsky.publish(request()).platform_id
    sandbox.sandbox.advance(600)
    early = bsky.fetch_metrics([uri])[0]
    sandbox.sandbox.advance(6 * 3600)
    late = bsky.fetch_metrics([uri])[0]

    assert late.likes is not None and early.likes is not None and late.likes > early.likes


def test_a_deleted_post_is_left_out_of_metrics(sandbox):
    bsky = channel(sandbox)
    kept = bsky.publish(request(key="kept")).platform_id
    missing = kept.rsplit("/", 1)[0] + "/" + record_key_for("never-published")

    assert [m.platform_id for m in bsky.fetch_metrics([kept, missing])] == [kept]


# -- sessions and auth -----------------------------------------------------------------------


def test_whoami_returns_the_handle(sandbox):
    assert channel(sandbox).whoami() == HANDLE


def test_it_reuses_a_stored_session(sandbox):
    first = channel(sandbox)
    first.whoami()
    stored = first.session_string
    assert stored and calls(sandbox, "createSession") == 1

    for _ in range(2):
        account = AccountConfig(
            "bluesky", "main", dict(CREDENTIALS), sandbox.url, {"session_string": stored}
        )
        again = BlueskyChannel(account)
        again.publish(request(key=f"reuse-{_}"))
        assert again.whoami() == HANDLE

    assert calls(sandbox, "createSession") == 1


def test_a_stored_session_follows_the_configured_base_url(sandbox):
    first = channel(sandbox)
    first.whoami()
    handle, did, access, refresh, _old_pds = (first.session_string or "").split(":::")
    elsewhere = ":::".join([handle, did, access, refresh, "http://127.0.0.1:9/xrpc"])

    assert channel(sandbox, session_string=elsewhere).whoami() == HANDLE
    assert calls(sandbox, "createSession") == 1


def test_a_damaged_stored_session_falls_back_to_the_app_password(sandbox):
    bsky = channel(sandbox, session_string="not a session", **CREDENTIALS)

    assert bsky.whoami() == HANDLE
    assert bsky.session_string and bsky.session_string.startswith(HANDLE)


def test_it_keeps_the_refreshed_session(sandbox):
    did = channel(sandbox).did or "did:plc:test"
    now = int(time.time())
    claims = {"sub": did, "handle": HANDLE}
    access = make_jwt({**claims, "scope": "com.atproto.appPass", "exp": now + 300})  # < 15 min left
    refresh = make_jwt({**claims, "scope": "com.atproto.refresh", "exp": now + 86400})
    stored = ":::".join([HANDLE, did, access, refresh, sandbox.url])
    bsky = channel(sandbox, session_string=stored)

    assert bsky.whoami() == HANDLE
    assert calls(sandbox, "refreshSession") == 1
    assert calls(sandbox, "createSession") == 0
    assert bsky.session_string != stored


def test_it_reports_wrong_password_as_auth(sandbox):
    bsky = channel(sandbox, handle=HANDLE, app_password="wrong")
    with pytest.raises(AuthError) as refused:
        bsky.whoami()
    assert "mot de passe d'application" in refused.value.message_fr
    assert calls(sandbox, "createSession") == 1  # no second try with a refused password


def test_it_reports_bad_token_as_auth(sandbox):
    stored = channel(sandbox)
    stored.whoami()
    only_session = channel(sandbox, session_string=stored.session_string or "")
    sandbox.add_fault("revoke", platform="bluesky", path="getSession")

    with pytest.raises(AuthError):
        only_session.whoami()


def test_it_logs_in_again_when_a_stored_token_is_refused(sandbox):
    bsky = channel(sandbox)
    bsky.whoami()
    sandbox.sandbox.revoked.add(bsky.session_string.split(":::")[2])  # the access token

    bsky.publish(request())

    assert calls(sandbox, "createSession") == 2
    assert len(posts(sandbox)) == 1


# -- failures --------------------------------------------------------------------------------


def test_it_reports_429_as_rate_limited_with_reset(sandbox):
    bsky = channel(sandbox)
    sandbox.add_fault("rate_limit", platform="bluesky", path="createRecord")

    with pytest.raises(RateLimited) as limited:
        bsky.publish(request())

    reset_at = limited.value.reset_at
    assert reset_at is not None
    assert dt.datetime.now(dt.UTC) < reset_at <= dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    assert posts(sandbox) == []


def test_it_records_rate_limit_headers(sandbox):
    bsky = channel(sandbox)
    bsky.publish(request())

    published = [i for i in bsky.take_rate_info() if i.endpoint == "publish"]
    assert published and published[-1].limit == 5000 // 3
    assert published[-1].remaining == (5000 - 3) // 3
    assert published[-1].reset_at and published[-1].reset_at > dt.datetime.now(dt.UTC)


def test_it_reports_write_then_timeout_as_ambiguous(sandbox):
    bsky = channel(sandbox, timeout=0.5)
    bsky.whoami()
    sandbox.add_fault("timeout_after_write", platform="bluesky", path="createRecord", delay=1.5)

    with pytest.raises(AmbiguousError) as unsure:
        bsky.publish(request())
    assert "clé d'enregistrement" in unsure.value.message_fr


def test_find_locates_post_after_ambiguous_outcome(sandbox):
    bsky = channel(sandbox, timeout=0.5)
    bsky.whoami()
    sandbox.add_fault("timeout_after_write", platform="bluesky", path="createRecord", delay=1.5)
    with pytest.raises(AmbiguousError):
        bsky.publish(request(key="lost"))

    found = bsky.find(request(key="lost"), since=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5))

    assert found.published is not None
    assert found.published.platform_id == posts(sandbox)[0]["id"]


def test_it_reports_connection_reset_on_write_as_ambiguous_and_a_retry_is_safe(sandbox):
    bsky = channel(sandbox)
    bsky.whoami()
    sandbox.add_fault("reset", platform="bluesky", path="createRecord")

    with pytest.raises(AmbiguousError):
        bsky.publish(request(key="reset"))
    assert bsky.find(request(key="reset"), since=dt.datetime.now(dt.UTC)).absent

    bsky.publish(request(key="reset"))
    bsky.publish(request(key="reset"))
    assert len(posts(sandbox)) == 1


def test_it_confirms_write_then_5xx_by_reading_its_record_back(sandbox):
    bsky = channel(sandbox)
    sandbox.add_fault("error_after_write", platform="bluesky", path="createRecord", status=503)

    published = bsky.publish(request())

    assert published.platform_id == posts(sandbox)[0]["id"]
    assert len(posts(sandbox)) == 1


def test_it_reports_write_then_5xx_as_ambiguous_when_the_record_cannot_be_read(sandbox):
    bsky = channel(sandbox)
    sandbox.add_fault("error_after_write", platform="bluesky", path="createRecord", status=502)
    sandbox.add_fault("error", platform="bluesky", path="getRecord", status=503)

    with pytest.raises(AmbiguousError) as unsure:
        bsky.publish(request())
    assert unsure.value.platform_code == 502


def test_it_reports_5xx_on_a_read_as_transient(sandbox):
    bsky = channel(sandbox)
    uri = bsky.publish(request()).platform_id
    sandbox.add_fault("error", platform="bluesky", path="getPosts", status=503)

    with pytest.raises(TransientError):
        bsky.fetch_metrics([uri])


def test_it_reports_connection_refused_as_transient(sandbox):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    account = AccountConfig("bluesky", "main", dict(CREDENTIALS), base_url=closed)

    with pytest.raises(TransientError):
        BlueskyChannel(account, timeout=1).publish(request())


def test_find_proves_absence(sandbox):
    bsky = channel(sandbox)
    bsky.publish(request(key="other"))

    found = bsky.find(request(key="never-sent"), since=dt.datetime.now(dt.UTC))

    assert found.absent and found.published is None


def test_find_is_undecidable_when_the_pds_fails(sandbox):
    bsky = channel(sandbox)
    bsky.whoami()
    sandbox.add_fault("error", platform="bluesky", path="getRecord", status=503)

    found = bsky.find(request(), since=dt.datetime.now(dt.UTC))

    assert not found.absent and found.published is None and "503" in found.reason
