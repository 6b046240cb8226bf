"""Facebook Pages, through facebook-sdk 3.1.0 (``facebook.GraphAPI``) and the Graph API.

facebook-sdk is a thin ``requests`` wrapper, unmaintained since 2018: its constructor only accepts
Graph versions up to 3.1, so the version is set on the instance from configuration, and it drops
HTTP status and headers, so a session hook keeps the last response for the error mapping and the
usage headers. Reference: /work/shared/reference/platforms.md §2.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import threading
import time
import unicodedata
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

import facebook
import regex
import requests
from urllib3.exceptions import NewConnectionError

from channels import thread
from channels.base import (
    AccountConfig,
    AmbiguousError,
    AuthError,
    Channel,
    ChannelError,
    CredentialField,
    DuplicateRefused,
    ErrorFacts,
    ErrorRule,
    Found,
    HideRefused,
    Image,
    InboxEntry,
    InboxPage,
    ListeningUnavailable,
    ListenPage,
    Metrics,
    PermanentError,
    Problem,
    PublicPost,
    Published,
    PublishRequest,
    RateInfo,
    RateLimited,
    TransientError,
    Validation,
    check_images,
    chunked,
    empty_text,
    no_platform_code,
    platform_code_only,
    read_cursor,
    too_long,
)
from channels.http import redirected_session

GRAPH_HOST = "graph.facebook.com"
#: Meta retires each Graph version about two years after release; override per account with the
#: ``graph_version`` option (https://developers.facebook.com/docs/graph-api/changelog/versions/).
DEFAULT_GRAPH_VERSION = "24.0"
MAX_MESSAGE = 63_206  # widely cited post limit; Meta does not document it (platforms.md §5)
MAX_IMAGES = 10
# Photo limits: https://developers.facebook.com/docs/graph-api/reference/page/photos/
MAX_IMAGE_BYTES = 4 * 1024 * 1024
IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/bmp", "image/tiff")
METRIC_FIELDS = (
    "shares,reactions.summary(total_count).limit(0),comments.summary(total_count).limit(0)"
)
FEED_PAGE_SIZE = 100  # the largest page /{page}/feed serves
MAX_FEED_PAGES = 30  # reconcile reads at most 3,000 posts back before giving up
CLOCK_SKEW = dt.timedelta(minutes=2)  # our clock against Meta's, when asking the feed ``since``
#: When a throttled answer gives no estimate: Platform limits roll over one hour, so usage drops
#: gradually; a quarter of it is a reasonable first wait.
RATE_LIMIT_FALLBACK = dt.timedelta(minutes=15)
USAGE_HEADERS = ("x-business-use-case-usage", "x-page-usage", "x-app-usage")

# Error codes, https://developers.facebook.com/docs/graph-api/guides/error-handling and
# https://developers.facebook.com/docs/graph-api/overview/rate-limiting/
RATE_LIMIT_CODES = frozenset({4, 17, 32, 341, 613, 80001})
AUTH_CODES = frozenset({10, 102, 104, 190})  # plus the permission range 200-299
SERVER_CODES = frozenset({1, 2})  # "API Unknown" / "API Service": temporary, Meta says retry


def _network(exc: BaseException, facts: ErrorFacts) -> bool:
    return isinstance(exc, requests.RequestException) and not isinstance(exc, requests.JSONDecodeError)


def _nothing_sent(exc: BaseException, facts: ErrorFacts) -> bool:
    # https://requests.readthedocs.io/en/latest/api/#exceptions: ConnectTimeout "is safe to
    # retry"; a NewConnectionError means no connection was ever made.
    return _network(exc, facts) and (
        isinstance(exc, requests.ConnectTimeout) or _never_connected(exc))  # type: ignore[arg-type]


def _meta_failed(exc: BaseException, facts: ErrorFacts) -> bool:
    """5xx, codes 1/2, is_transient, or an answer facebook-sdk could not read: Meta's side failed
    and says "retry"."""
    status, code = facts.status, facts.code
    return bool((status is not None and status >= 500) or code in SERVER_CODES or facts.words.get("transient")
                or (code is None and (status is None or status < 400)))


class FacebookChannel(Channel):
    kind = "facebook"
    label = "Facebook"
    platform_name = "Facebook"
    credential_fields = (
        CredentialField(
            "page_id", "identifiant de la Page", "Page ID", secret=False, prompt="Page ID",
            help_fr="Sur Facebook, la Page : À propos → Transparence de la Page.",
            help_en="On Facebook, the Page: About → Page transparency."),
        CredentialField(
            "page_token", "jeton de la Page", "Page token", prompt="Page access token",
            label_fr="Jeton d'accès de la Page", label_en="Page access token",
            help_fr="Un jeton de Page sans expiration, de préférence celui d'un utilisateur système de Meta "
                    "Business Suite, avec le droit de publier sur la Page.",
            help_en="A Page token that does not expire, preferably a Meta Business Suite system user's, allowed "
                    "to post on the Page."),
    )
    credential_groups = (("page_id", "page_token"),)
    sandbox_credentials = {"page_id": "1000001", "page_token": "sandbox-fb-token"}
    public_hosts = frozenset({"facebook.com", "www.facebook.com", "m.facebook.com", "web.facebook.com"})
    profile_url_pattern = "https://www.facebook.com/{handle}"
    post_url_pattern = "https://www.facebook.com/{id}"
    limit_option = "max_message_length"
    account_options = ("graph_version",)
    account_option_help = {"graph_version": ("version de l'API Graph, ex. 24.0", "Graph API version, e.g. 24.0")}
    offline_credentials = {"page_id": "0", "page_token": "offline"}
    client_distribution = "facebook-sdk"
    can_search = True  # the Page's tagged and visitor posts, with the permission
    can_delete = True  # DELETE /{page-post-id} with the Page token (delete_object)
    can_alt_text = True  # alt_text_custom on photos
    can_thread = True  # the post, then the Page's first comments under it
    can_first_comment = True
    replies_under_root = True
    can_hide_reply = True  # a comment's is_hidden
    metrics_batch_size = 50  # documented maximum of ids per ?ids= lookup
    # Page tokens fall under Business Use Case limits: 4,800 calls x engaged users per 24 h
    # (https://developers.facebook.com/docs/graph-api/overview/rate-limiting/). With a single
    # engaged user that is 200 calls an hour, split here between the three kinds of call.
    # Deleting a Page post (DELETE /{page-post-id}) has no figure of its own: it is budgeted like
    # publishing, apart from it, out of the same Business Use Case calls.
    rate_limits = {"publish": (50, 3600), "metrics": (100, 3600), "read": (50, 3600), "delete": (50, 3600)}
    listen_endpoint = "read"
    listen_page_size = 100  # /{page}/tagged and /visitor_posts: limit up to 100
    listen_reads_all = True  # no search: the edges are read once for all the terms

    #: How facebook-sdk and requests failures become our errors
    #: (https://developers.facebook.com/docs/graph-api/guides/error-handling).
    error_table = (
        # Refused, DNS or connect timeout: nothing was sent, retrying is safe.
        ErrorRule(TransientError, "Graph API unreachable: {redacted}", "Facebook est injoignable (rien n'a été envoyé).",
                  when=_nothing_sent, platform_code=no_platform_code),
        # Read timeout, reset after sending, truncated answer: the request left, Meta may have
        # acted on it. Only a read can be retried blindly.
        ErrorRule((AmbiguousError, TransientError), "No complete answer from the Graph API: {redacted}",
                  "Facebook n'a pas répondu jusqu'au bout : la publication a peut-être eu lieu.",
                  when=_network, platform_code=no_platform_code),
        # Throttling answers carry codes 4/17/32/613 (Platform), 80001 (Pages BUC) or 341
        # (posting limit) with HTTP 400/403, not 429:
        # https://developers.facebook.com/docs/graph-api/overview/rate-limiting/
        ErrorRule(RateLimited, "Facebook rate limit ({code}): {detail}", codes=RATE_LIMIT_CODES, statuses=(429,),
                  platform_code=platform_code_only),
        # 190 invalid/expired token, 102 session, 104 no token, 10 and 200-299 missing permission:
        # a person must renew the token or re-grant permissions.
        ErrorRule(AuthError, "Facebook refused the Page token ({code}): {detail}",
                  "Facebook refuse le jeton de la Page ({code}) : renouvelez-le ou accordez à nouveau les "
                  "autorisations. Détail : {detail}",
                  codes=AUTH_CODES | frozenset(range(200, 300)), statuses=(401,), platform_code=platform_code_only),
        # Meta's side failed; after a write the post may exist.
        ErrorRule((AmbiguousError, TransientError), "Graph API server error ({status}, {code}): {detail}",
                  "Erreur du côté de Facebook ({status}) : la publication a peut-être eu lieu si c'était un envoi.",
                  when=_meta_failed, platform_code=platform_code_only),
        # Everything else (100, 324, 368, 506, 1609005, other 4xx): the content or the request is
        # refused; retrying the same thing cannot succeed. 506 is a copy of a recent post.
        ErrorRule(DuplicateRefused, "{refusal} ({code}: {detail})", "{refusal_fr} (code {code} : {detail})",
                  codes=(506,), platform_code=platform_code_only),
        ErrorRule(PermanentError, "{refusal} ({code}: {detail})", "{refusal_fr} (code {code} : {detail})",
                  platform_code=platform_code_only),
    )

    @classmethod
    def account_option(cls, name: str, value: str) -> str:
        return value.strip().removeprefix("v") if name == "graph_version" else value

    def __init__(
        self,
        account: AccountConfig,
        *,
        session: requests.Session | None = None,
        timeout: float = 15.0,
    ) -> None:
        super().__init__(account, session=session, timeout=timeout)
        self.page_id = str(account.credentials.get("page_id") or "").strip()
        token = str(account.credentials.get("page_token") or "").strip()
        if not self.page_id or not token:
            raise AuthError(
                "Facebook needs both page_id and page_token.",
                message_fr="Facebook demande l'identifiant de la Page (page_id) et son jeton (page_token).",
            )
        self.graph_version = graph_version(account)
        http = redirected_session(account.base_url, (GRAPH_HOST,), session)
        http.hooks["response"].append(self._on_response)
        # The constructor rejects every modern version ("#.#" regex): set it on the instance.
        self.graph = facebook.GraphAPI(access_token=token, timeout=timeout, session=http)
        self.graph.version = "v" + self.graph_version
        self._seen = threading.local()

    # -- validate ---------------------------------------------------------------------------------

    def validate(self, text: str, images: Sequence[Image] = ()) -> Validation:
        limit = int(self.account.options.get("max_message_length", MAX_MESSAGE))
        length = len(text)  # Meta counts characters; code points are what its limit is quoted in
        problems = []
        if not text.strip() and not images:
            problems.append(empty_text(self.label))
        if length > limit:
            problems.append(too_long(self.label, length, limit, "caractères", "characters"))
        problems += check_images(
            images,
            max_count=MAX_IMAGES,
            max_bytes=MAX_IMAGE_BYTES,
            mime_types=IMAGE_TYPES,
            platform=self.label,
        )
        return Validation(self.kind, length, limit, tuple(problems))

    # -- publish ----------------------------------------------------------------------------------

    def publish(self, request: PublishRequest) -> Published:
        """The Page post; a thread's other parts as the Page's first comments under it, in
        order (``channels/thread``); with ``reply_to``, a comment of the Page on that post."""
        first = thread.Target(request.reply_to, request.reply_to) if request.reply_to else None
        return thread.publish(self, request, first=first, find_first=self._find_post)

    def post_part(self, request: PublishRequest, target: thread.Target | None) -> Published:
        if target is not None:
            return self._comment(request, target)
        # Facebook has no idempotency key: an uncertain outcome is settled by find().
        message = compose(request)
        page = self.page_id
        if not request.images:
            # https://developers.facebook.com/docs/pages-api/posts#publish-posts
            args = {"message": message, **({"link": request.link} if request.link else {})}
            result = self._call(self.graph.put_object, page, "feed", may_have_posted=True, **args)
            post_id = str(result["id"])
        elif len(request.images) == 1:
            image = request.images[0]
            result = self._call(
                self.graph.put_photo,
                image=_upload(image),
                album_path=f"{page}/photos",
                message=message,
                alt_text_custom=image.alt,
                may_have_posted=True,
            )
            post_id = str(result.get("post_id") or result["id"])
        else:
            # Several photos: upload each unpublished, then one feed post that attaches them.
            # Unpublished photos never show on the Page, so a failed upload has published
            # nothing and counts as a read (https://developers.facebook.com/docs/pages-api/posts).
            media = []
            for image in request.images:
                staged = self._call(
                    self.graph.put_photo,
                    image=_upload(image),
                    album_path=f"{page}/photos",
                    published="false",
                    alt_text_custom=image.alt,
                    may_have_posted=False,
                )
                media.append(str(staged["id"]))
            attached = {
                f"attached_media[{i}]": json.dumps({"media_fbid": m}) for i, m in enumerate(media)
            }
            text = {"message": message} if message else {}
            result = self._call(
                self.graph.put_object, page, "feed", may_have_posted=True, **text, **attached
            )
            post_id = str(result["id"])
        return Published(post_id, permalink(post_id), dt.datetime.now(dt.UTC))

    def _comment(self, request: PublishRequest, target: thread.Target) -> Published:
        """A comment of the Page under ``target.parent`` (``POST /{post-id}/comments message=``
        with the Page token: the Page is the author). Text only: a comment takes one picture at
        most, and only from an address; parts with images are refused before anything is sent."""
        if request.images:
            raise PermanentError(
                "On Facebook the parts after the first are comments: they carry text only.",
                message_fr="Sur Facebook, les parties après la première sont des commentaires : texte seulement.",
                platform_code="comment_images")
        message = compose(request)
        check = self.validate(message)
        if not check.valid:
            raise PermanentError(" ".join(p.en for p in check.problems),
                                 message_fr=" ".join(p.fr for p in check.problems), platform_code="validation")
        result = self._call(self.graph.put_object, target.parent, "comments", may_have_posted=True, message=message)
        comment_id = str(result["id"])
        return Published(comment_id, comment_link(target.parent, comment_id), dt.datetime.now(dt.UTC))

    def find_part(self, request: PublishRequest, target: thread.Target, *, since: dt.datetime) -> Found:
        """A comment of the Page under ``target.parent`` with this text (the post's comments,
        newest first, read back to ``since``)."""
        wanted = _normal(compose(request))
        floor = since - CLOCK_SKEW
        args: dict[str, Any] = {"fields": "id,message,from,created_time", "order": "reverse_chronological",
                                "limit": FEED_PAGE_SIZE}
        try:
            for _ in range(MAX_FEED_PAGES):
                page = self._call(self.graph.get_connections, target.parent, "comments", may_have_posted=False,
                                  **args)
                for item in page.get("data", []):
                    created = _graph_time(item.get("created_time"))
                    if created is not None and created < floor:
                        return Found(absent=True)
                    mine = str((item.get("from") or {}).get("id") or "") == self.page_id
                    if mine and _normal(item.get("message", "")) == wanted:
                        cid = str(item["id"])
                        return Found(published=Published(cid, comment_link(target.parent, cid), created))
                after = page.get("paging", {}).get("cursors", {}).get("after")
                if not after or not page.get("paging", {}).get("next"):
                    return Found(absent=True)
                args = {**args, "after": after}
        except (AuthError, RateLimited):
            raise
        except ChannelError as exc:
            return Found(reason=f"Commentaires illisibles : {exc.message_fr}")
        return Found(reason=f"Plus de {MAX_FEED_PAGES * FEED_PAGE_SIZE} commentaires : lecture arrêtée.")

    # -- metrics ----------------------------------------------------------------------------------

    def fetch_metrics(self, platform_ids: Sequence[str]) -> list[Metrics]:
        """Figures for each post still on the Page; deleted posts are left out of the result."""
        found: list[Metrics] = []
        for batch in chunked(list(platform_ids), self.metrics_batch_size):
            found += self._metrics_batch(list(batch))
        return found

    def _metrics_batch(self, ids: list[str]) -> list[Metrics]:
        try:
            data = self._call(
                self.graph.get_objects, ids, fields=METRIC_FIELDS, may_have_posted=False
            )
        except PermanentError as exc:
            # One unknown id fails the whole lookup (#803 "Some of the aliases you requested do
            # not exist: a,b"): ask again once without the ids Graph named.
            named = re.search(r"do not exist: ([\w,]+)", str(exc))
            missing = set(named.group(1).split(",")) if named else set()
            rest = [i for i in ids if i not in missing]
            if exc.platform_code != 803 or len(rest) == len(ids):
                raise
            if not rest:
                return []
            data = self._call(
                self.graph.get_objects, rest, fields=METRIC_FIELDS, may_have_posted=False
            )
        return [_metrics(pid, data[pid]) for pid in ids if isinstance(data.get(pid), dict)]

    # -- reconcile --------------------------------------------------------------------------------

    def find(self, request: PublishRequest, *, since: dt.datetime) -> Found:
        """The post by :meth:`_find_post`; a thread's comments by its notes, each looked for
        under the post (``channels/thread``)."""
        first = thread.Target(request.reply_to, request.reply_to) if request.reply_to else None
        return thread.find(self, request, since=since, find_first=self._find_post, first=first)

    def _find_post(self, request: PublishRequest, since: dt.datetime) -> Found:
        """Read the Page feed from ``since`` on and look for the exact message."""
        if request.reply_to:  # a comment of ours under that post
            return self.find_part(request, thread.Target(request.reply_to, request.reply_to), since=since)
        if since.tzinfo is None:
            raise ValueError("find() needs an aware datetime for since")
        wanted = _normal(compose(request))
        if not wanted:
            return Found(
                reason="Publication sans texte : impossible de la reconnaître dans le fil de la Page."
            )
        floor = since - CLOCK_SKEW
        args: dict[str, Any] = {
            "fields": "id,message,created_time",
            "since": int(floor.timestamp()),
            "limit": FEED_PAGE_SIZE,
        }
        for _ in range(MAX_FEED_PAGES):
            page = self._call(
                self.graph.get_connections, self.page_id, "feed", may_have_posted=False, **args
            )
            for item in page.get("data", []):
                created = _graph_time(item.get("created_time"))
                if created is not None and created < floor:
                    return Found(absent=True)  # newest first: the whole window has been read
                if _normal(item.get("message", "")) == wanted:
                    return Found(
                        published=Published(str(item["id"]), permalink(str(item["id"])), created)
                    )
            next_url = page.get("paging", {}).get("next")
            if not next_url:
                return Found(absent=True)
            args = {
                k: v[0]
                for k, v in parse_qs(urlsplit(next_url).query).items()
                if k != "access_token"
            }
        return Found(
            reason=f"Plus de {MAX_FEED_PAGES * FEED_PAGE_SIZE} publications depuis {since:%Y-%m-%d %H:%M} : lecture arrêtée."
        )

    # -- listening --------------------------------------------------------------------------------
    #
    # The public's posts reach a Page through two edges read with the Page token: /tagged (posts
    # that tag the Page) and /visitor_posts (posts on the Page). Both answer newest first, take
    # ``since`` and page with ``paging.cursors.after``. A pass reads /tagged back to the mark left
    # by the previous pass (its newest time, in seconds, and the ids seen at that second), then
    # /visitor_posts the same way; the message is matched against the term in memory and dropped,
    # ``from`` is never asked for. The cursor (``f1:`` + JSON) carries the mark, the edge and the
    # page cursor in progress, so a pass cut short resumes after the last page recorded. One call
    # per page: ceil(n/100) per edge, at least one per edge. Since the edges hold every post
    # whatever its words, the worker reads them once for all the terms (``listen_all``, one
    # cursor per account), not once per term: each post carries the first term it matched.

    def validate_term(self, term: str, *, hashtag: bool) -> Problem | None:
        return facebook_term_problem(term, hashtag=hashtag)

    def listen(
        self, term: str, *, hashtag: bool, cursor: str | None, limit: int | None = None
    ) -> ListenPage:
        problem = self.validate_term(term, hashtag=hashtag)
        if problem is not None:
            raise PermanentError(problem.en, message_fr=problem.fr, platform_code=problem.code)
        page = self._read_public([(term, hashtag)], cursor=cursor, limit=limit)
        return dataclasses.replace(
            page, posts=tuple(dataclasses.replace(p, term=None) for p in page.posts)
        )

    def listen_all(
        self, terms: Sequence[tuple[str, bool]], *, cursor: str | None, limit: int | None = None
    ) -> ListenPage:
        """The edges read once for every term (``listen_reads_all``): each post is matched
        against the terms in the order given and carries the first it matched. A term Facebook
        cannot carry (refused where it is typed) matches nothing."""
        usable = [(t, h) for t, h in terms if self.validate_term(t, hashtag=h) is None]
        return self._read_public(usable, cursor=cursor, limit=limit)

    def listen_all_resume(self, cursors: Sequence[str]) -> str | None:
        """From per-term cursors (before ``listen_reads_all``): the OLDEST finished mark among
        them, so no term misses a post (what the others read again is deduplicated by its key);
        None when one of them was never finished (the whole window, once)."""
        marks = [_decode(c) for c in cursors]
        if not marks or any(m.get("mark") is None for m in marks):
            return None
        oldest = min(int(m["mark"]) for m in marks)
        # a post at that second is skipped only if every cursor marked there had seen it
        at = [set(m.get("seen") or []) for m in marks if int(m["mark"]) == oldest]
        return _encode({
            "mark": oldest,
            "seen": sorted(set.intersection(*at)),
            "tagged_only": all(m.get("tagged_only") for m in marks) or None,
        })

    def _read_public(
        self, terms: Sequence[tuple[str, bool]], *, cursor: str | None, limit: int | None
    ) -> ListenPage:
        state = _decode(cursor)
        edge = int(state.get("edge", 0)) % len(PUBLIC_EDGES)
        size = max(1, min(self.listen_page_size, limit or self.listen_page_size))
        args: dict[str, Any] = {"fields": LISTEN_FIELDS, "limit": size}
        if state.get("mark") is not None:
            args["since"] = state["mark"]
        if state.get("after"):
            args["after"] = state["after"]
        try:
            page = self._listening(
                self.graph.get_connections, self.page_id, PUBLIC_EDGES[edge], **args
            )
        except PermanentError as err:
            # A New Pages Experience Page has no /visitor_posts ("nonexisting field"): visitors
            # post as tags there, so /tagged alone is the whole public.
            if PUBLIC_EDGES[edge] != "visitor_posts" or err.platform_code != 100:
                raise
            page = {"data": []}
            state = {**state, "tagged_only": True}  # remembered: the next passes skip it
        items = _timed(page.get("data", []))
        matchers = [
            (("#" if hashtag else "") + term, _matcher(term, hashtag=hashtag))
            for term, hashtag in terms
        ]
        ours = f"{self.page_id}_"
        posts: list[PublicPost] = []
        for when, object_id, item in items:
            if _at_mark(state, when, object_id):
                continue
            text = str(item.get("message") or "")
            matched = next((label for label, matches in matchers if matches(text)), None)
            # a share of one of our posts counts whatever its words (it answers that post)
            if matched is None and not str(item.get("parent_id") or "").startswith(ours):
                continue
            posts.append(dataclasses.replace(_public_post(item, when), term=matched))
        state = _advance(state, items)
        after = _next_after(page)
        if after:
            return ListenPage(tuple(posts), _encode({**state, "edge": edge, "after": after}), True)
        if edge + 1 < len(PUBLIC_EDGES) and not state.get("tagged_only"):
            return ListenPage(tuple(posts), _encode({**state, "edge": edge + 1, "after": None}), True)
        return ListenPage(tuple(posts), _finish(state), False)

    def listen_answers(self, *, cursor: str | None, limit: int | None = None) -> ListenPage:
        """Comments on the Page's own posts of the last ``listen_answers_days`` days (option,
        14 by default), each answering its post. Every post of that window is re-read at most
        once an hour (``FULL_ANSWERS_EVERY``); the passes in between read only the posts of the
        last ``RECENT_ANSWER_DAYS`` days, where most comments come, each kind of pass with its
        own mark, so a comment on an older post waits at most an hour and is never missed. Bounded: one call per 25 posts of that window,
        whose newest 100 comments come inline; a post with more new comments than that is read
        further with its own ``/comments`` cursor (at most ``MAX_COMMENT_PAGES`` calls a post).
        Never the comment's author or text: only its id and time."""
        found, cursor_out, more, calls = self._comments(cursor, ANSWER_FIELDS, "")
        posts = tuple(PublicPost(comment_id, "reply", when, answers=post_id) for when, comment_id, _, post_id in found)
        return ListenPage(posts, cursor_out, more, calls)

    def inbox(self, *, cursor: str | None, limit: int | None = None) -> InboxPage:
        """The inbox's entries: the comments on the Page's own posts (the same walk as
        :meth:`listen_answers`, with its own cursor), with their message and author's name
        (``from``, given to a Page token with the MODERATE task). Mentions of the Page in other
        people's posts (``/tagged``) are not in the inbox: their authors are hidden by Graph."""
        found, cursor_out, more, calls = self._comments(cursor, INBOX_FIELDS, INBOX_COMMENT_FIELDS)
        entries = tuple(
            InboxEntry(platform_id=comment_id, kind="reply", created_at=when, text=str(raw.get("message") or ""),
                       author=str((raw.get("from") or {}).get("name") or ""), answers=post_id,
                       url=raw.get("permalink_url") or f"https://www.facebook.com/{comment_id}")
            for when, comment_id, raw, post_id in found)
        return InboxPage(entries, cursor_out, more, calls)

    def _comments(self, cursor: str | None, fields: str,
                  comment_fields: str) -> tuple[list[tuple[dt.datetime, str, dict[str, Any], str]], str, bool, int]:
        """One page of our posts' new comments, oldest mark first: (when, comment id, the
        comment as Graph gave it, our post's id), the next cursor, whether more follow, calls."""
        state = _decode(cursor)
        if not state.get("window"):
            days = float(self.account.options.get("listen_answers_days", ANSWER_WINDOW_DAYS))
            state = _start_answers(state, days, time.time())
        args: dict[str, Any] = {
            "fields": fields,
            "limit": ANSWER_POSTS_PER_PAGE,
            "since": state["window"],
        }
        if state.get("after"):
            args["after"] = state["after"]
        page = self._listening(self.graph.get_connections, self.page_id, "published_posts", **args)
        calls = 1
        found: list[tuple[dt.datetime, str, dict[str, Any]]] = []
        new: list[tuple[dt.datetime, str, dict[str, Any], str]] = []
        for item in page.get("data", []):
            post_id = str(item.get("id"))
            comments = item.get("comments") or {}
            batch = _timed(comments.get("data", []))
            chunk = list(batch)
            next_url = (comments.get("paging") or {}).get("next")
            for _ in range(MAX_COMMENT_PAGES):
                if not (next_url and batch and _is_new(state, batch[-1][0], batch[-1][1])):
                    break
                query = _query_of(next_url)
                if comment_fields and "fields" not in query:
                    query["fields"] = comment_fields
                more = self._listening(self.graph.get_connections, post_id, "comments", **query)
                calls += 1
                batch = _timed(more.get("data", []))
                chunk += batch
                next_url = (more.get("paging") or {}).get("next")
            found += chunk
            new += [(when, comment_id, raw, post_id) for when, comment_id, raw in chunk
                    if _is_new(state, when, comment_id)]
        state = _advance(state, found, any_page=True)
        after = _next_after(page)
        if after:
            return new, _encode({**state, "after": after}), True, calls
        return new, _finish_answers(state), False, calls

    def hide_reply(self, platform_id: str, *, root: str | None = None) -> None:
        """``POST /{comment-id}?is_hidden=true``: the comment stays visible to its author and
        friends only (https://developers.facebook.com/docs/graph-api/reference/comment)."""
        try:
            self._call(self.graph.request, f"{self.graph.version}/{platform_id}",
                       post_args={"is_hidden": "true"}, may_have_posted=False)
        except PermanentError as err:
            raise HideRefused(
                f"Facebook refused to hide this comment: {err.message_en}",
                message_fr=f"Facebook refuse de masquer ce commentaire : {err.message_fr}",
                platform_code=err.platform_code,
            ) from err

    def _listening(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return self._call(fn, *args, may_have_posted=False, **kwargs)
        except AuthError as err:
            code = err.platform_code
            if isinstance(code, int) and (code == 10 or 200 <= code < 300):
                raise ListeningUnavailable(
                    "The Page token lacks the permission to read the public's posts and comments "
                    "(pages_read_user_content, pages_read_engagement). Publishing still works; "
                    "listening on Facebook is paused until the permission is granted and the "
                    "account is tested again.",
                    message_fr="Le jeton de la Page n'a pas l'autorisation de lire les publications "
                    "et commentaires du public (pages_read_user_content, pages_read_engagement). La "
                    "publication fonctionne toujours ; l'écoute sur Facebook est suspendue jusqu'à "
                    "ce que l'autorisation soit accordée et le compte testé de nouveau.",
                    platform_code=code,
                ) from err
            raise

    # -- deletion ---------------------------------------------------------------------------------

    def delete(self, platform_id: str) -> None:
        """``DELETE /{page-post-id}`` with the Page token (facebook-sdk's ``delete_object``); a
        post already gone (Graph's "does not exist", code 100 subcode 33, or a 404) counts as
        deleted."""
        try:
            self._call(self.graph.delete_object, platform_id, may_have_posted=True)
        except PermanentError as exc:
            if not _gone(exc.__cause__):
                raise

    # -- whoami -----------------------------------------------------------------------------------

    def whoami(self) -> str:
        try:
            page = self._call(
                self.graph.get_object, self.page_id, fields="id,name", may_have_posted=False
            )
        except PermanentError as exc:  # an unknown page id is a credential problem here
            raise AuthError(
                exc.message_en, message_fr=exc.message_fr, platform_code=exc.platform_code
            ) from exc
        return str(page.get("name") or page["id"])

    # -- HTTP plumbing ----------------------------------------------------------------------------

    def _call(
        self, fn: Callable[..., Any], *args: Any, may_have_posted: bool, **kwargs: Any
    ) -> Any:
        self.graph.timeout = self.timeout
        self._seen.response = None
        try:
            return fn(*args, **kwargs)
        except (facebook.GraphAPIError, requests.RequestException, KeyError, ValueError) as exc:
            # KeyError/ValueError: facebook-sdk reads headers["content-type"] and .json() blindly
            raise self._translate(exc, may_have_posted=may_have_posted) from exc

    def _on_response(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self._seen.response = response
        usage = _usage(response.headers)
        if usage is not None:
            method, url = response.request.method, response.request.url or ""
            endpoint = ("delete" if method == "DELETE" else "publish" if method != "GET"
                        else "metrics" if "ids=" in url else "read")
            used, regain = usage
            reset = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=regain) if regain else None
            # Graph reports usage in percent of the budget: limit 100, remaining what is left.
            self.note_rate(RateInfo(endpoint, max(0, 100 - used), 100, reset))

    def _translate(self, exc: Exception, *, may_have_posted: bool) -> ChannelError:
        """The one place where facebook-sdk and requests failures become our error kinds, by the
        table, with the status of the last answer seen (facebook-sdk does not keep it)."""
        return self.map_error(exc, write=may_have_posted, facts=_facts(exc, getattr(self._seen, "response", None)))

    @classmethod
    def error_facts(cls, exc: BaseException) -> ErrorFacts:
        return _facts(exc, getattr(exc, "response", None))


def _gone(exc: BaseException | None) -> bool:
    """Whether Graph said the object does not exist (code 100, subcode 33) or answered 404."""
    if not isinstance(exc, facebook.GraphAPIError) or not isinstance(exc.result, dict):
        return False
    error = exc.result.get("error")
    error = error if isinstance(error, dict) else {}
    return (_int(error.get("code")) == 100 and _int(error.get("error_subcode")) == 33) or "does not exist" in str(
        error.get("message") or "")


def _facts(exc: BaseException, response: requests.Response | None) -> ErrorFacts:
    """The Graph error's code, message and ``is_transient`` flag, the answer's status, and when a
    throttle ends (from the usage headers, else Retry-After, else a quarter of an hour)."""
    error = (exc.result.get("error")
             if isinstance(exc, facebook.GraphAPIError) and isinstance(exc.result, dict) else None)
    error = error if isinstance(error, dict) else {}
    code = _int(error.get("code"))
    en, fr = REFUSALS.get(code, REFUSALS[None])
    return ErrorFacts(
        status=response.status_code if response is not None else None, code=code,
        detail=str(error.get("message") or exc), reset_at=_reset_at(response),
        words={"transient": bool(error.get("is_transient")), "redacted": _redact(exc), "refusal": en,
               "refusal_fr": fr})


# ---------------------------------------------------------------------------------------------
# Helpers


def graph_version(account: AccountConfig) -> str:
    raw = (
        account.options.get("graph_version")
        or account.credentials.get("graph_version")
        or DEFAULT_GRAPH_VERSION
    )
    version = str(raw).strip().removeprefix("v")
    if not re.fullmatch(r"\d+\.\d+", version):
        raise PermanentError(
            f"graph_version must look like 24.0, not {raw!r}.",
            message_fr=f"graph_version doit ressembler à 24.0, pas à « {raw} ».",
        )
    return version


def compose(request: PublishRequest) -> str:
    """The message as posted: the text, then the link when the text does not already carry it."""
    text = request.text.rstrip()
    if request.link and request.link not in text:
        return f"{text}\n\n{request.link}" if text else request.link
    return text


def comment_link(post_id: str, comment_id: str) -> str:
    return f"{permalink(post_id)}?comment_id={comment_id}"


def permalink(post_id: str) -> str:
    page, _, number = post_id.partition("_")
    return (
        f"https://www.facebook.com/{page}/posts/{number}"
        if number
        else f"https://www.facebook.com/{post_id}"
    )


def _upload(image: Image) -> tuple[str, bytes, str]:
    return (image.filename, image.data, image.mime_type)


def _metrics(platform_id: str, obj: dict[str, Any]) -> Metrics:
    shares = obj.get("shares")
    return Metrics(
        platform_id,
        likes=_total(obj.get("reactions")),
        # Graph omits ``shares`` when nobody shared; the object came back, so that means 0.
        shares=(_int(shares.get("count")) or 0) if isinstance(shares, dict) else 0,
        replies=_total(obj.get("comments")),
        quotes=None,  # Facebook has no quote posts
        views=None,  # impressions need read_insights on /insights, not object fields
    )


def _total(edge: Any) -> int | None:
    if isinstance(edge, dict) and isinstance(edge.get("summary"), dict):
        return _int(edge["summary"].get("total_count"))
    return None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _normal(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


def _graph_time(value: Any) -> dt.datetime | None:
    try:
        return dt.datetime.strptime(str(value), "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        return None


def _never_connected(exc: requests.RequestException) -> bool:
    reason = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)  # MaxRetryError wraps the cause
    # NameResolutionError subclasses NewConnectionError (urllib3 2.x); SSL fails before sending.
    return isinstance(reason, NewConnectionError) or isinstance(exc, requests.exceptions.SSLError)


def _redact(exc: BaseException) -> str:
    # requests names the URL in its messages, and GET URLs carry the token (facebook-sdk puts
    # access_token in the query string): never let it reach a stored error.
    return re.sub(r"access_token=[^&\s'\"]+", "access_token=***", str(exc))


def _usage(headers: Any) -> tuple[int, int] | None:
    """(highest percentage used, minutes to regain access) from Graph's usage headers."""
    used, regain, seen = 0, 0, False
    for name in USAGE_HEADERS:
        raw = headers.get(name)
        if not raw:
            continue
        try:
            parsed = json.loads(raw)
        except ValueError:
            continue
        # X-App-Usage/X-Page-Usage are one object; X-Business-Use-Case-Usage maps ids to lists.
        entries = [parsed] if "call_count" in parsed else [e for v in parsed.values() for e in v]
        for entry in entries:
            seen = True
            used = max(
                used,
                *(_int(entry.get(k)) or 0 for k in ("call_count", "total_time", "total_cputime")),
            )
            regain = max(regain, _int(entry.get("estimated_time_to_regain_access")) or 0)
    return (used, regain) if seen else None


def _reset_at(response: requests.Response | None) -> dt.datetime:
    now = dt.datetime.now(dt.UTC)
    usage = _usage(response.headers) if response is not None else None
    if usage and usage[1] > 0:
        return now + dt.timedelta(minutes=usage[1])
    retry_after = _int(response.headers.get("retry-after")) if response is not None else None
    return now + (dt.timedelta(seconds=retry_after) if retry_after else RATE_LIMIT_FALLBACK)


#: Plain words for the refusals a person can act on (codes from the error-handling page).
REFUSALS: dict[int | None, tuple[str, str]] = {
    506: (
        "Facebook refuses a post identical to a recent one on this Page.",
        "Facebook refuse une publication identique à une publication récente de cette Page : modifiez le texte.",
    ),
    368: (
        "Facebook has temporarily blocked posting from this Page for a policy reason.",
        "Facebook bloque temporairement les publications de cette Page (règles de la plateforme) : vérifiez la Page dans Meta Business Suite.",
    ),
    324: (
        "Facebook could not read an image.",
        "Facebook n'a pas pu lire une image : vérifiez son format (JPEG, PNG, GIF, BMP, TIFF) et sa taille (4 Mo au plus).",
    ),
    1609005: (
        "Facebook could not fetch the link.",
        "Facebook n'a pas pu lire le lien : vérifiez qu'il s'ouvre publiquement.",
    ),
    100: (
        "Facebook refused a parameter of the post.",
        "Facebook refuse un élément de la publication (texte trop long, image ou lien invalide).",
    ),
    None: ("Facebook refused the request.", "Facebook refuse la demande."),
}


# ---------------------------------------------------------------------------------------------
# Listening helpers

PUBLIC_EDGES = ("tagged", "visitor_posts")
#: What is read of a public post: enough to match the term in memory and tell the kind; no
#: ``from``. The message is never kept.
LISTEN_FIELDS = "id,created_time,message,parent_id,attachments{media_type}"
ANSWER_POSTS_PER_PAGE = 25
ANSWER_COMMENTS_INLINE = 100
ANSWER_FIELDS = (
    f"id,comments.order(reverse_chronological).limit({ANSWER_COMMENTS_INLINE})"
    ".summary(true){id,created_time}"
)
#: The inbox reads the same walk with the comments' words and authors (the MODERATE task).
INBOX_COMMENT_FIELDS = "id,created_time,message,from,permalink_url"
INBOX_FIELDS = (
    f"id,comments.order(reverse_chronological).limit({ANSWER_COMMENTS_INLINE})"
    f".summary(true){{{INBOX_COMMENT_FIELDS}}}"
)
ANSWER_WINDOW_DAYS = 14
#: The answers' passes between two full ones read only our posts of the last days (seconds, days).
FULL_ANSWERS_EVERY = 3600
RECENT_ANSWER_DAYS = 2
MAX_COMMENT_PAGES = 10
MARK_IDS = 200
_FB_HASHTAG = regex.compile(r"[\p{L}\p{M}\p{N}_]+")


def facebook_term_problem(term: str, *, hashtag: bool) -> Problem | None:
    words = term.strip()
    if not hashtag:
        if not words:
            return Problem("empty_term", "Le mot-clé est vide.", "The keyword is empty.")
        return None
    tag = words.removeprefix("#")
    if not tag:
        return Problem("empty_term", "Le mot-clic est vide.", "The hashtag is empty.")
    if not _FB_HASHTAG.fullmatch(tag):
        return Problem(
            "hashtag_characters",
            f"« #{tag} » n'est pas un mot-clic Facebook : lettres, chiffres et tiret bas "
            "seulement, sans espace ni ponctuation (Facebook coupe le mot-clic au premier autre signe).",
            f'"#{tag}" is not a Facebook hashtag: letters, digits and underscores only, no spaces '
            "or punctuation (Facebook cuts the hashtag at the first other sign).",
        )
    if tag.isdigit():
        return Problem(
            "hashtag_digits",
            f"« #{tag} » n'a que des chiffres : Facebook n'en fait pas un mot-clic.",
            f'"#{tag}" is only digits: Facebook does not make it a hashtag.',
        )
    return None


def _matcher(term: str, *, hashtag: bool) -> Callable[[str], bool]:
    words = term.strip().removeprefix("#") if hashtag else term.strip()
    if hashtag:
        pattern = regex.compile(
            r"(?<![\p{L}\p{M}\p{N}_&])#" + regex.escape(words) + r"(?![\p{L}\p{M}\p{N}_])",
            regex.IGNORECASE,
        )
        return lambda text: pattern.search(text) is not None
    folded = unicodedata.normalize("NFC", words).casefold()
    return lambda text: folded in unicodedata.normalize("NFC", text).casefold()


def _public_post(item: dict[str, Any], when: dt.datetime) -> PublicPost:
    parent = item.get("parent_id")
    if parent:
        kind = "quote" if str(item.get("message") or "").strip() else "repost"
        return PublicPost(str(item["id"]), kind, when, answers=str(parent))
    media = [a.get("media_type") for a in (item.get("attachments") or {}).get("data", [])]
    kind = "photo" if "photo" in media or "album" in media else "original"
    return PublicPost(str(item["id"]), kind, when, answers=None)


def _timed(data: list[dict[str, Any]]) -> list[tuple[dt.datetime, str, dict[str, Any]]]:
    out = []
    for item in data:
        when = _graph_time(item.get("created_time"))
        if when is not None and item.get("id"):
            out.append((when, str(item["id"]), item))
    return out


def _decode(cursor: str | None) -> dict[str, Any]:
    return read_cursor(cursor, "f1:")


def _encode(state: dict[str, Any]) -> str:
    return "f1:" + json.dumps(
        {k: v for k, v in state.items() if v not in (None, [], "")}, separators=(",", ":")
    )


def _at_mark(state: dict[str, Any], when: dt.datetime, object_id: str) -> bool:
    mark = state.get("mark")
    return mark is not None and int(when.timestamp()) == mark and object_id in state.get("seen", [])


def _is_new(state: dict[str, Any], when: dt.datetime, object_id: str) -> bool:
    mark = state.get("mark")
    if mark is None:
        return True
    second = int(when.timestamp())
    return second > mark or (second == mark and object_id not in state.get("seen", []))


def _advance(
    state: dict[str, Any], items: list[tuple[dt.datetime, str, Any]], *, any_page: bool = True
) -> dict[str, Any]:
    """The newest second seen in this pass so far and the ids seen at that second."""
    if not items:
        return dict(state)
    newest = max(int(when.timestamp()) for when, _, _ in items)
    at_newest = [oid for when, oid, _ in items if int(when.timestamp()) == newest]
    top, top_seen = state.get("top"), list(state.get("top_seen", []))
    if top is None or newest > top:
        top, top_seen = newest, at_newest[:MARK_IDS]
    elif newest == top:
        top_seen = [*top_seen, *(i for i in at_newest if i not in top_seen)][:MARK_IDS]
    return {**state, "top": top, "top_seen": top_seen}


def _finish(state: dict[str, Any]) -> str:
    """End of a pass: its newest second becomes the mark (never moving back)."""
    mark, seen = state.get("mark"), state.get("seen", [])
    top = state.get("top")
    if top is not None and (mark is None or top > mark):
        mark, seen = top, state.get("top_seen", [])
    elif top is not None and top == mark:
        seen = [*seen, *(i for i in state.get("top_seen", []) if i not in seen)][:MARK_IDS]
    return _encode({"mark": mark, "seen": seen, "tagged_only": state.get("tagged_only")})


def _start_answers(state: dict[str, Any], days: float, now: float) -> dict[str, Any]:
    """A new pass over our posts' comments: the full window once an hour, else the recent days,
    with the mark of that kind of pass. A cursor of before the two kinds has one mark: both."""
    marks = dict(state.get("marks") or {})
    if not marks and state.get("mark") is not None:
        marks = {
            "full": [state["mark"], state.get("seen", [])],
            "recent": [state["mark"], state.get("seen", [])],
        }
    full = (
        now - float(state.get("full_at") or 0) >= FULL_ANSWERS_EVERY or days <= RECENT_ANSWER_DAYS
    )
    band = "full" if full else "recent"
    mark, seen = marks.get(band) or marks.get("full") or [None, []]
    return {
        "marks": marks,
        "full_at": state.get("full_at"),
        "band": band,
        "started": int(now),
        "window": int(now - (days if full else RECENT_ANSWER_DAYS) * 86400),
        "mark": mark,
        "seen": list(seen or []),
    }


def _finish_answers(state: dict[str, Any]) -> str:
    """End of an answers pass: its band's mark moves on. A full pass saw every post, the recent
    ones too: the recent passes' mark moves up to it as well."""
    done = _decode(_finish(state))
    mark, seen = done.get("mark"), done.get("seen", [])
    marks = dict(state.get("marks") or {})
    band = state.get("band") or "full"
    marks[band] = [mark, seen]
    full_at = state.get("full_at")
    if band == "full":
        full_at = state.get("started")
        recent = marks.get("recent") or [None, []]
        if mark is not None and (recent[0] is None or mark > recent[0]):
            marks["recent"] = [mark, seen]
        elif mark is not None and mark == recent[0]:
            marks["recent"] = [
                mark,
                [*recent[1], *(i for i in seen if i not in recent[1])][:MARK_IDS],
            ]
    return _encode({"marks": marks, "full_at": full_at})


def _next_after(page: dict[str, Any]) -> str | None:
    paging = page.get("paging") or {}
    if not paging.get("next"):
        return None
    return (paging.get("cursors") or {}).get("after") or _query_of(paging["next"]).get("after")


def _query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items() if k != "access_token"}
