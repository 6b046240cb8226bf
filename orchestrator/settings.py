"""Configuration, from ``PORTEVOIX_*`` environment variables (and an optional ``.env`` file)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PORTEVOIX_", env_file=".env", extra="ignore", populate_by_name=True)

    #: Where data lives by default (SQLite file, key file, media).
    home: Path = Path("var")
    #: SQLAlchemy URL; default: a SQLite file under ``home``.
    database_url: str = ""
    #: Fernet key (url-safe base64) for credentials at rest; else the key file under ``home``.
    secret_key: str = ""
    secret_key_file: Path | None = None
    #: Where the content folders live (one folder per edition); default: the bundled sample.
    content_dir: Path | None = None

    # worker -------------------------------------------------------------------------------
    dispatch_interval: float = 0.25
    claim_batch: int = 100
    lease_seconds: int = 120
    #: The most accounts one worker publishes for at once, a thread each. Threads are started as
    #: accounts have due work (a burst over 50 accounts runs 50 at once, the platforms' pace), up to
    #: this ceiling, and kept for the next burst.
    publish_threads: int = 256
    #: Processors the worker keeps to ("0", "0,2", "1-3"; empty: wherever the system puts it).
    #: See orchestrator/cpus.py for when it helps.
    worker_cpus: str = ""
    request_timeout: float = 20.0
    max_attempts: int = 5
    backoff_base: float = 30.0
    backoff_max: float = 3600.0
    #: Deliveries whose time passed while held go out when released if at most this late.
    lateness_limit_minutes: int = 120
    heartbeat_seconds: float = 5.0
    heartbeat_stale_seconds: float = 60.0
    #: Metrics cadence: (age in seconds up to which, poll every seconds) pairs, then stop.
    metrics_cadence: list[tuple[int, int]] = Field(
        default_factory=lambda: [(3600, 300), (6 * 3600, 900), (48 * 3600, 3600), (14 * 86400, 21600)]
    )
    metrics_horizon_days: int = 30
    metrics_first_poll_seconds: int = 60
    #: A post whose outcome is unknown is looked for after this delay (X's timeline can lag a
    #: few seconds behind a write; a slow request of a live worker ends meanwhile) ...
    reconcile_delay_seconds: float = 25.0
    #: ... again this often while the platform cannot tell ...
    reconcile_interval_seconds: float = 300.0
    #: ... and after this many undecidable looks it is left for a person, with the reason.
    reconcile_max_tries: int = 6
    #: Listening (orchestrator/worker/listen.py): a pass over every term and account this often;
    #: at most this many pages per stream and pass (the rest of a backlog waits for the next);
    #: and the share of each rate budget listening never touches, kept for publishing.
    listen_seconds: float = 300.0
    listen_max_pages: int = 25
    listen_reserve: float = 0.5
    #: Longest a listening page waits for the publisher to have no account at work (publishing
    #: first; a steady stream of due posts slows listening, never stops it).
    listen_yield_seconds: float = 2.0
    #: A listening page also waits while a delivery falls due within this many seconds (0: off).
    listen_yield_ahead_seconds: float = 0.1
    #: The inbox (orchestrator/worker/inbox.py, docs/privacy.md): a pass over every account this
    #: often, at most this many pages an account (the rest waits for the next pass); texts and
    #: handles purged this many days after an item was handled (done, ignored), and this many
    #: days after it came in when nobody handled it.
    inbox_seconds: float = 120.0
    inbox_max_pages: int = 10
    inbox_retention_days: float = 30.0
    inbox_unhandled_days: float = 60.0

    # link cards (orchestrator/services/link_cards.py) ---------------------------------------
    #: Read link cards from private and loopback addresses too: for the sandbox's and the tests'
    #: pages on 127.0.0.1 only. Never set it in production (it would let a pasted link make the
    #: server read its own network).
    link_cards_allow_private: bool = False

    # media library --------------------------------------------------------------------------
    #: Where uploaded images go when ``media_storage`` is "disk"; default: ``home``/media.
    media_dir: Path | None = None
    #: "db" keeps images in the database (the embedded SQLite default: one file to back up);
    #: "disk" writes them under ``media_dir`` (better for a large library on PostgreSQL).
    media_storage: str = "db"
    media_max_bytes: int = 10 * 1024 * 1024
    #: A folder on the server whose images a bulk plan may name by path (the dashboard's plans
    #: included). Unset: a plan's images come from the media library (``media:N``) only, plus,
    #: at the command line, the plan file's own folder. Nothing outside them is ever read.
    plan_image_dir: Path | None = None

    # public media (Instagram, Threads; orchestrator/media_urls.py, docs/deploy.md) -------------
    #: The public ``https`` address of the service that serves images to platforms that fetch
    #: them themselves (``links serve``, under ``/m/``), e.g. https://lien.example.org. Unset:
    #: deliveries to such platforms fail with a message naming this setting (the sandbox's
    #: accounts use the short-link service's local address).
    media_base_url: str = ""
    #: How long a signed image address stays valid; the platforms fetch within minutes.
    media_url_lifetime_seconds: int = 3600

    # dashboard ----------------------------------------------------------------------------
    dashboard_port: int = 8501
    sandbox_port: int = 8765
    default_language: str = "fr"
    log_format: str = "text"
    log_level: str = "INFO"

    # short links (docs/responses.md, docs/deploy.md) ----------------------------------------
    #: The short-link service's public address (e.g. https://go.amnistie.ca): published posts
    #: carry ``<this>/<code>`` instead of the long tagged link, and the dashboard shows addresses
    #: under it (the calendar feed). Default: where ``links serve`` and ``up`` listen, which only
    #: the sandbox's accounts may use (a real account keeps the long link until this is public).
    #: ``PORTEVOIX_LINKS_PUBLIC_URL``, its former name, is still read.
    links_base_url: str = Field(
        default="http://127.0.0.1:8780",
        validation_alias=AliasChoices("PORTEVOIX_LINKS_BASE_URL", "PORTEVOIX_LINKS_PUBLIC_URL"),
    )
    #: Links in posts go through the short-link service (counted clicks). ``false`` publishes the
    #: long tagged link instead; an edition can also turn it off (``link_rules.shorten: false``).
    links_shorten: bool = True
    #: In the sandbox (``up``), the simulated public follows a few short links of each post.
    sandbox_clicks: bool = True

    # notifications (orchestrator/services/notify.py, docs/notifications.md) -------------------
    #: The SMTP server notifications go through; empty host: no e-mail is sent (rows wait).
    smtp_host: str = ""
    smtp_port: int = 587
    #: "starttls" (port 587), "ssl" (port 465) or "none" (a relay on this machine only).
    smtp_tls: str = "starttls"
    smtp_user: str = ""
    #: Never logged; a SecretStr so that printing the settings shows stars.
    smtp_password: SecretStr = SecretStr("")
    smtp_from: str = "porte-voix@localhost"
    smtp_timeout: float = 15.0
    #: Events of one kind for one address within this many seconds go out as one message.
    notify_group_seconds: float = 60.0
    notify_max_attempts: int = 8
    notify_backoff_base: float = 30.0
    notify_backoff_max: float = 3600.0
    notify_lease_seconds: int = 120
    #: Local hour (the edition's time zone) of the daily digest.
    notify_digest_hour: int = 18
    #: Send webhooks to private and loopback addresses too: for the tests' receivers on
    #: 127.0.0.1 and a chat server on the organisation's own network. Off, a webhook address that
    #: resolves to one is refused (a staff member's webhook must not make the server call into
    #: its own network).
    webhooks_allow_private: bool = False
    #: The dashboard's address, for links in messages.
    dashboard_url: str = "http://127.0.0.1:8501"

    # API (orchestrator/api.py) ---------------------------------------------------------------
    api_max_body_bytes: int = 256 * 1024
    api_max_counts: int = 1000

    # sign-in and sessions (docs/security.md) ----------------------------------------------
    #: Failures older than this (with none since) are forgotten.
    login_window_minutes: float = 15.0
    #: From this many failures in the window, each next try waits: delay, 2×delay, 4×delay …
    login_slowdown_after: int = 5
    login_delay_seconds: float = 2.0
    #: At this many failures the username (or the browser session) is locked for a while.
    login_lock_after: int = 10
    login_lock_minutes: float = 15.0
    #: A signed-in session with no activity for this long is signed out.
    session_idle_minutes: float = 60.0

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'porte-voix.db').resolve()}"

    def resolved_media_dir(self) -> Path:
        return self.media_dir or self.home / "media"

    def key_file(self) -> Path:
        return self.secret_key_file or self.home / "secret.key"


@lru_cache
def get_settings() -> Settings:
    return Settings()
