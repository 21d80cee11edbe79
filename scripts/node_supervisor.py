"""The background node's supervisor, started by `ledger node start`: it owns anvil (which dies with
it), runs the keeper that mines and snapshots (chain/keeper.py), restarts anvil if it dies (the
journal re-sends what the restored chain lost), and on SIGTERM takes a last snapshot and stops.

    python -m scripts.node_supervisor      # configuration from LEDGER_* / ledger.toml

`ledger up` needs no supervisor: it owns its node in-process, keeper included.
"""

from __future__ import annotations

import signal
import sys
import threading
import time

from chain.errors import ChainError
from chain.settings import ChainSettings
from scripts.node_commands import local_node

RESTART_PAUSE = 1.0
MAX_QUICK_RESTARTS = 5  # a node that keeps dying at once is not restarted forever


def main() -> int:
    settings = ChainSettings()
    node = local_node(settings, background=False)  # anvil dies with this process, even by kill -9
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    quick, last_restart = 0, 0.0
    try:
        node.start()
        print(f"{settings.node} started on {node.url}", flush=True)
        while not stop.wait(0.5):
            assert node.process is not None
            if node.process.poll() is None:
                continue
            print(f"{settings.node} exited with code {node.process.returncode}; restarting", flush=True)
            quick = quick + 1 if time.monotonic() - last_restart < 10 else 0
            if quick > MAX_QUICK_RESTARTS:
                print(f"{settings.node} keeps exiting; giving up (log: {node.log_file})", file=sys.stderr, flush=True)
                return 1
            time.sleep(RESTART_PAUSE)
            node.start()
            last_restart = time.monotonic()
            print(f"{settings.node} restarted; {node.replayed} journaled transactions re-sent", flush=True)
    except ChainError as exc:
        print(str(exc), file=sys.stderr, flush=True)
        return 1
    finally:
        node.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
