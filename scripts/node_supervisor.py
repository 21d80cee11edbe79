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

from chain.errors import ChainError
from chain.settings import ChainSettings
from scripts.node_commands import local_node
from scripts.node_watch import keep_node_running


def main() -> int:
    settings = ChainSettings()
    node = local_node(settings, background=False)  # anvil dies with this process, even by kill -9
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        node.start()
        print(f"{settings.node} started on {node.url}", flush=True)
        keep_node_running(node, stop, lambda line: print(line, flush=True), threading.Lock())
    except ChainError as exc:  # NodeKeepsDyingError included: it says where the node's log is
        print(str(exc), file=sys.stderr, flush=True)
        return 1
    finally:
        node.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
