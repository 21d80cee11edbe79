"""The main job's node under watch: `ledger up` owns its anvil in-process, so when anvil dies (kill -9,
out of memory) it is restarted here from its last snapshot plus the journal of sent transactions,
as `ledger node start`'s supervisor does, instead of the API serving a dead node until someone notices."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from chain.errors import ChainError
from chain.node import LocalNode

RESTART_PAUSE = 1.0
MAX_QUICK_RESTARTS = 5  # a node that keeps dying at once is not restarted forever
QUICK = 10.0  # seconds: a restart this soon after the last counts as quick


class NodeKeepsDyingError(ChainError):
    pass


def keep_node_running(node: LocalNode, stop: threading.Event, say: Callable[[str], None], lock: threading.Lock) -> None:
    """Until `stop`, restart `node` whenever its process exits; raise NodeKeepsDyingError (the
    supervisor then stops the main job, exit code 1) when it keeps exiting. `lock` is held while
    restarting, so the main job's own stop never races a restart."""
    quick, last_restart = 0, 0.0
    while not stop.wait(0.5):
        with lock:
            if stop.is_set() or node.process is None or node.process.poll() is None:
                continue
            code = node.process.returncode
            quick = quick + 1 if time.monotonic() - last_restart < QUICK else 0
            if quick > MAX_QUICK_RESTARTS:
                raise NodeKeepsDyingError(f"the node keeps exiting (code {code}); see its log {node.log_file}")
            say(f"the node exited with code {code}; restarting it from its last snapshot")
            time.sleep(RESTART_PAUSE)  # its port is released
            node.start()
            last_restart = time.monotonic()
            say(f"node restarted; {node.replayed} journaled transaction(s) re-sent")
