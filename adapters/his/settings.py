"""The HIS adapter's settings (HUB_HIS_...). Host, port, default encoding and the enabled
default live in hub.settings; these tune the runtime and name the hospitals' endpoints."""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict


class HisSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HUB_HIS_", env_file=".env", extra="ignore")

    park_seconds: float = 300.0  # how long an update waits for its create (A08 before A04)
    max_batch: int = 200  # messages committed together at most
    # Wait up to this long to gather a batch from concurrent senders (never for a lone one).
    linger_ms: float = 10.0
    max_attempts: int = 8  # then the message is a dead letter
    backoff_base: float = 1.0  # seconds before the first retry; doubles, with jitter
    backoff_cap: float = 300.0
    # Hospitals reached over MLLP for referrals: organization id -> "host:port".
    hospitals: dict[str, str] = {}
    send_timeout: float = 10.0  # one REF^I12 exchange, connect to answer
    frame_timeout: float = 10.0  # a frame must arrive whole within this
    idle_timeout: float = 300.0  # an idle connection is closed after this
    # ... but one that has not sent a whole message yet after this (HUB_HIS_FIRST_MESSAGE_TIMEOUT)
    first_message_timeout: float = 10.0
    max_connections: int = 256  # MLLP connections at once; a full server evicts silent ones
    max_connections_per_peer: int = 64  # from one remote IP (HUB_HIS_MAX_CONNECTIONS_PER_PEER)


@lru_cache
def get_his_settings() -> HisSettings:
    return HisSettings()
