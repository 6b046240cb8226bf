"""The simulated public's clicks: a few readers of each sandbox post follow its short links.

Real HTTP ``GET`` requests to the running short-link service (``links serve``), so the click is
counted as a real one would be and the demo's funnel fills. Bounded on every side: only
addresses under the short-link service's own address are followed (never anything on the
internet), the redirect itself is not followed, each post gets between one and ``most`` clicks,
spread over ``spread_seconds`` after the post is first seen, at most ``max_posts`` posts are
followed, and everything stops with :meth:`Clicker.stop` (or the process). ``up`` starts it;
tests start it only when they mean to.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import httpx

from channels.sandbox.core import Sandbox

log = logging.getLogger("porte_voix.sandbox")

PLATFORMS = ("x", "bluesky", "mastodon", "facebook")


def short_links_in(post: dict[str, Any], prefix: str) -> list[str]:
    """The short links a reader can follow in one emulator post: in its text, its link facets
    (Bluesky shows a link without its scheme and keeps the address in a facet) and its card."""
    import re

    found: list[str] = []
    candidates = re.findall(r"https?://[^\s<>\"]+", str(post.get("text") or ""))
    for facet in post.get("facets") or []:
        for feature in facet.get("features") or []:
            if feature.get("uri"):
                candidates.append(str(feature["uri"]))
    if post.get("link"):
        candidates.append(str(post["link"]))
    for url in candidates:
        url = url.rstrip(".,;:!?)»\"'")
        if url.startswith(prefix) and url not in found:
            found.append(url)
    return found


class Clicker:
    """Plans and makes the clicks; :meth:`tick` does what is due (the thread calls it)."""

    def __init__(self, sandbox: Sandbox, base_url: str, *, most: int = 4, spread_seconds: float = 240.0,
                 max_posts: int = 500, every: float = 2.0, seed: int | None = None,
                 get: Callable[[str], Any] | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.sandbox = sandbox
        self.prefix = base_url.rstrip("/") + "/"
        self.most, self.spread, self.max_posts, self.every = max(1, most), spread_seconds, max_posts, every
        self.seed = sandbox.seed if seed is None else seed
        self.clock = clock
        self._client = httpx.Client(follow_redirects=False, timeout=5.0) if get is None else None
        self._get = get or self._http_get
        self._planned: dict[str, list[tuple[float, str]]] = {}  # post key -> (when, url) still to click
        self.made = 0
        self.failed = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _http_get(self, url: str) -> int:
        assert self._client is not None
        return self._client.get(url, headers={"User-Agent": "porte-voix-sandbox-reader"}).status_code

    def _clicks_for(self, key: str) -> int:
        digest = hashlib.sha256(f"{self.seed}:click:{key}".encode()).digest()
        return 1 + digest[0] % self.most

    def _plan(self, key: str, urls: list[str], now: float) -> list[tuple[float, str]]:
        count = self._clicks_for(key)
        digest = hashlib.sha256(f"{self.seed}:when:{key}".encode()).digest()
        plan = []
        for i in range(count):
            # spread over the window, the first soon after the post is seen
            when = now + self.spread * (i + digest[(i + 1) % len(digest)] / 255) / count
            plan.append((when, urls[digest[i % len(digest)] % len(urls)]))
        return sorted(plan)

    def posts(self) -> Iterable[tuple[str, dict[str, Any]]]:
        for platform in PLATFORMS:
            try:
                items = self.sandbox.posts(platform)
            except KeyError:
                continue
            for post in items:
                yield f"{platform}:{post.get('id')}", post

    def tick(self) -> int:
        """Plan clicks for posts not seen before, make those that are due; returns clicks made."""
        now = self.clock()
        for key, post in self.posts():
            if key in self._planned or len(self._planned) >= self.max_posts:
                continue
            urls = short_links_in(post, self.prefix)
            self._planned[key] = self._plan(key, urls, now) if urls else []
        made = 0
        for plan in self._planned.values():
            while plan and plan[0][0] <= now and not self._stop.is_set():
                _, url = plan.pop(0)
                try:
                    status = self._get(url)
                except Exception as exc:  # the links service restarting: that click is lost
                    self.failed += 1
                    log.debug("sandbox click on %s failed: %s", url, exc)
                    continue
                if status in (301, 302, 303, 307, 308):
                    made += 1
                else:
                    self.failed += 1
        self.made += made
        return made

    def start(self) -> Clicker:
        self._thread = threading.Thread(target=self._run, name="sandbox-clicks", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.tick()
            except Exception:
                log.exception("sandbox clicks failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._client is not None:
            self._client.close()
