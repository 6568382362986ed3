"""Settings of the event feed, subscriptions and webhooks (environment, prefix HUB_EVENTS_)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class EventSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HUB_EVENTS_", env_file=".env", extra="ignore")

    poll_interval: float = Field(
        default=0.5,
        gt=0,
        description="Seconds between outbox polls (SQLite, and the PostgreSQL "
        "fallback when a notification is missed or an event settles late).",
    )
    batch: int = Field(default=200, ge=1, description="Events read per poll.")
    subscriber_queue: int = Field(
        default=1000,
        ge=1,
        description="Events buffered per subscription; a subscriber that "
        "falls further behind is disconnected rather than silently skipped.",
    )
    notify_channel: str = "hub_events"  # PostgreSQL LISTEN/NOTIFY channel
    dispatch_webhooks: bool = True  # run the webhook dispatcher in this process
    webhook_timeout: float = Field(default=10.0, gt=0, description="Seconds per POST.")
    webhook_max_attempts: int = Field(default=8, ge=1, description="Then FAILED, kept for replay.")
    webhook_backoff_base: float = Field(default=2.0, gt=0, description="First retry delay (s).")
    webhook_backoff_cap: float = Field(default=600.0, gt=0, description="Longest retry delay (s).")
    webhook_concurrency: int = Field(default=8, ge=1, description="POSTs in flight per process.")
    webhook_batch: int = Field(default=50, ge=1, description="Deliveries claimed per round.")
    webhook_allow_private: bool = Field(
        default=False,
        description="Allow webhook URLs on private, loopback and link-local addresses "
        "(receivers on the hospital LAN); off, such URLs are refused (SSRF).",
    )
