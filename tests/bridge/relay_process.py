"""The relay as its own process, configured like `ledger bridge once` (LEDGER_BRIDGE_*), that
kills itself with SIGKILL when it reaches the step named by argv[1] (seen, imported, confirm
ready, confirmed): what a crash at that moment leaves behind is what the restart must finish."""

from __future__ import annotations

import os
import signal
import sys

from bridge.relay import Relay
from bridge.settings import BridgeSettings, open_endpoint


def main() -> None:
    crash_at = sys.argv[1] if len(sys.argv) > 1 else ""

    def on_step(step: str) -> None:
        if step == crash_at:
            os.kill(os.getpid(), signal.SIGKILL)

    settings = BridgeSettings()
    destination = open_endpoint(settings, "destination")
    relay = Relay(
        open_endpoint(settings, "source"),
        destination,
        settings.recognition(destination),
        on_step=on_step,
        settle_timeout=30.0,
    )
    report = relay.step()
    print(f"seen={report.seen} imported={report.imported} confirmed={report.confirmed} aborted={report.aborted}")


if __name__ == "__main__":
    main()
