"""Settings of the certificate service and the public API (environment, prefix LEDGER_)."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from chain.paths import HARDHAT_DIR

PDF_FONT_PACKAGE = "@expo-google-fonts/noto-sans-sc"  # Noto Sans SC, pinned in hardhat-local/package.json


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEDGER_", extra="ignore")

    registry_name: str = "四川林草碳普惠登记簿 Sichuan Forestry & Grassland Carbon-Inclusive Registry"
    public_url: str | None = None  # the base of the URLs printed on certificates; default the API's own
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    anchor_every: int = 16  # anchor the log after this many new entries …
    anchor_interval: float = 60.0  # … or when the oldest unanchored entry is this old (seconds)
    # the printable certificate's CJK font: the directory of the npm package PDF_FONT_PACKAGE (its
    # 400Regular/ and 700Bold/ TrueType files), by default where `make deps` installs it
    pdf_font: Path = HARDHAT_DIR / "node_modules" / PDF_FONT_PACKAGE
    # concurrency (docs/api.md, "Load"): requests that read the database run at most `api_concurrency`
    # at once per worker, each on one pooled connection; the others wait their turn on the event loop,
    # holding neither a thread nor a connection, and after `api_queue_timeout` seconds get 503 with
    # Retry-After. The pool (certificates/db.py `api_engine`) holds `api_concurrency` + 4 connections, and a
    # request that still finds it empty for `db_pool_timeout` seconds gets 503 too: never a hang.
    api_concurrency: int = 12
    api_queue_timeout: float = 10.0
    db_pool_timeout: float = 5.0
    retry_after: int = 2  # seconds, in the Retry-After header of a 503

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.api_host}:{self.api_port}").rstrip("/")
