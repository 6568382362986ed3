"""The maternal-child adapter's settings (HUB_MATERNAL_...). Enabled when the URL is set."""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict


class MaternalSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HUB_MATERNAL_", env_file=".env", extra="ignore")

    url: str | None = None  # e.g. http://127.0.0.1:8090 (HUB_MATERNAL_URL); unset: off
    token: str | None = None  # the client token the system issued (HUB_MATERNAL_TOKEN)
    page_size: int = 200  # records per GET /records
    poll_seconds: float = 5.0  # wait between pulls once caught up
    timeout: float = 10.0  # one HTTP request, connect to answer
    max_attempts: int = 8  # a parked/failing record or a push, then a dead letter
    backoff_base: float = 1.0  # seconds; doubles per attempt, with jitter
    backoff_cap: float = 300.0
    park_seconds: float = 86400.0  # a visit waits this long for its pregnancy's registration


@lru_cache
def get_maternal_settings() -> MaternalSettings:
    return MaternalSettings()
