"""The immunization adapter's settings (HUB_IMMUNIZATION_...). Enabled when the URL is set."""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict


class ImmunizationSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="HUB_IMMUNIZATION_", env_file=".env", extra="ignore"
    )

    url: str | None = None  # e.g. http://127.0.0.1:8091 (HUB_IMMUNIZATION_URL); unset: off
    token: str | None = None  # the bearer token the system issued (HUB_IMMUNIZATION_TOKEN)
    page_size: int = 200  # subjects per GET /changes
    poll_seconds: float = 5.0  # wait between pulls once caught up
    timeout: float = 10.0  # one HTTP request, connect to answer
    max_attempts: int = 8  # a failing subject, then a dead letter
    backoff_base: float = 1.0  # seconds; doubles per attempt, with jitter
    backoff_cap: float = 300.0
    recompute_hour: int = 2  # the daily overdue recompute runs after this hour (local time)


@lru_cache
def get_immunization_settings() -> ImmunizationSettings:
    return ImmunizationSettings()
