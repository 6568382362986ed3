"""Typed settings, read from the environment with the HUB_ prefix (pydantic-settings)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HUB_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default=f"sqlite+aiosqlite:///{ROOT / 'var' / 'hub.db'}",
        description="SQLAlchemy async URL: sqlite+aiosqlite:///path or postgresql+asyncpg://…",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "INFO"
    log_json: bool = False
    # GraphQL guard rails
    max_query_depth: int = 12
    max_page_size: int = 100
    max_query_tokens: int = 4000
    introspection: bool = True
    # "production" turns introspection off for non-admin clients (unless a client's own
    # switch says otherwise); "development" (make run) keeps it on for GraphiQL.
    mode: Literal["development", "production"] = "development"
    # Budgets per client (hub.access.budgets; `hub client create --rate/--cost` overrides)
    default_rate_per_minute: int = 6000  # requests; 0 = unlimited
    default_cost_per_minute: int = 1_000_000  # query cost (schema.cost); 0 = unlimited
    max_query_cost: int = 50_000  # one operation over it: QUERY_TOO_COSTLY, before it runs
    # Request limits (hub.limits): bad input gets a 4xx with a stable code, fast
    max_body_bytes: int = 1_048_576  # request body, bytes: 413 BODY_TOO_LARGE
    max_json_depth: int = 64  # nesting of the POST /graphql JSON body: 400 TOO_DEEP
    max_string_length: int = 4000  # any GraphQL input string (free text): INPUT_TOO_LONG
    max_aliases: int = 30  # aliased fields per operation: TOO_MANY_ALIASES
    max_root_fields: int = 20  # top-level fields per operation: TOO_MANY_ROOT_FIELDS
    max_response_bytes: int = 8 * 1_048_576  # a larger GraphQL answer: RESPONSE_TOO_LARGE
    # Adapters
    his_mllp_host: str = "127.0.0.1"
    his_mllp_port: int = 2575
    his_default_encoding: str = "utf-8"
    his_enabled: bool = True
    # false (`hub serve --no-adapters`): an API-only process; no adapter starts in it
    adapters_enabled: bool = True
    # Where the policies live (None = the shipped presets)
    policy_dir: Path | None = None
    # Which source wins a golden-record field is the `source_system` table's trust
    # (`hub source list / add`); this ranking only applies until it has been read.
    source_priority: list[str] = ["his", "maternal", "immunization", "cdc", "demo"]
    # Record linkage: the model file the matcher serves (None = hub/registry/linkage-model.json);
    # `hub linkage train` writes new versioned ones.
    linkage_model: Path | None = None
    # Garbage collection of a started server (hub.tuning.settle_gc): young collections
    # every this many allocations (Python's default is 700); 0 leaves the collector alone.
    gc_threshold: int = 20_000
    # Encryption at rest (hub.crypto): 32-byte keys, base64 or hex. One key (HUB_DATA_KEY,
    # id HUB_DATA_KEY_ID) or a ring (HUB_DATA_KEYS='{"k1": "...", "k2": "..."}' with
    # HUB_DATA_KEY_CURRENT), or a JSON key file; HUB_INDEX_KEY keys the HMAC lookups.
    # Development with none of them: var/dev-keys.json is generated (never in production).
    data_key: SecretStr | None = None
    data_key_id: str = "k1"
    data_keys: dict[str, SecretStr] = {}
    data_key_current: str | None = None
    index_key: SecretStr | None = None
    key_file: Path | None = None
    # Resident logins (hub.access.resident_tokens): where one-time codes go (file:PATH or
    # console), how long a code and a resident token live.
    sms_sender: str = "file:var/sms.log"
    resident_code_minutes: int = 10
    resident_token_minutes: int = 30
    # one-time codes sent per person (ID number) and per vendor client within the window
    # (hub.access.budgets token buckets; 0 = unlimited); over it: LOGIN_RATE_LIMITED
    resident_codes_per_person: int = 5
    resident_codes_per_client: int = 600
    resident_code_window_minutes: int = 60
    # OAuth 2.0 authorization codes (hub.access.oauth) live this long, used once
    oauth_code_seconds: int = 60
    # Probes (hub.health): /readyz fails when the database does not answer within this many
    # seconds, or when an adapter's oldest waiting message is older than the lag limit
    # (0: lag is reported, never unready).
    ready_timeout_seconds: float = 2.0
    ready_max_adapter_lag_seconds: float = 0.0


    def sanitized(self) -> dict[str, object]:
        """The settings as they may be logged: passwords, tokens and secrets masked."""
        from hub.logs import sanitize_settings

        return sanitize_settings(self.model_dump(mode="json"))


@lru_cache
def get_settings() -> Settings:
    return Settings()
