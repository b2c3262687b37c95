"""One device's state on disk: the outbox, the media spool and the models, under one data folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx

import edge
from edge.models import ModelStore
from edge.outbox import Outbox
from edge.spool import Spool

DEFAULT_BUDGET = 2 * 1024**3  # bytes of media spooled at most


@dataclass
class DeviceState:
    data_dir: Path
    outbox: Outbox
    spool: Spool
    models: ModelStore

    @classmethod
    def open(cls, data_dir: Path | str, *, budget_bytes: int = DEFAULT_BUDGET) -> DeviceState:
        """Open (or create) `data_dir`: `outbox.sqlite3`, `spool/`, `models/`."""
        root = Path(data_dir)
        root.mkdir(parents=True, exist_ok=True)
        outbox = Outbox(root / "outbox.sqlite3")
        spool = Spool(root / "spool", budget_bytes=budget_bytes, needed=outbox.pending_assets)
        return cls(root, outbox, spool, ModelStore(root / "models"))

    def close(self) -> None:
        self.outbox.close()


def http_client(server: str, token: str, *, timeout: float = 30.0) -> httpx.Client:
    """A keep-alive client for the device API, authenticated with the device token."""
    return httpx.Client(base_url=server.rstrip("/"), timeout=timeout,
                        headers={"Authorization": f"Bearer {token}",
                                 "User-Agent": f"loupe-edge/{edge.__version__}"})
