"""The relay as its own process, configured like `ledger bridge run` (LEDGER_BRIDGE_*), passing
until nothing is pending (or argv[1] seconds have gone), then printing what it did in all."""

from __future__ import annotations

import sys
import time

from bridge.relay import Relay
from bridge.settings import BridgeSettings, open_endpoint


def main() -> None:
    deadline = time.monotonic() + float(sys.argv[1] if len(sys.argv) > 1 else 120)
    settings = BridgeSettings()
    destination = open_endpoint(settings, "destination")
    relay = Relay(
        open_endpoint(settings, "source"), destination, settings.recognition(destination), settle_timeout=30.0
    )
    seen = imported = confirmed = aborted = 0
    while time.monotonic() < deadline:
        report = relay.step()
        if report.seen == 0:
            break
        seen = max(seen, report.seen)
        imported, confirmed, aborted = (
            imported + report.imported,
            confirmed + report.confirmed,
            aborted + report.aborted,
        )
        time.sleep(0.2)
    print(f"seen={seen} imported={imported} confirmed={confirmed} aborted={aborted}")


if __name__ == "__main__":
    main()
