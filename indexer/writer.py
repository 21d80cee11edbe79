"""Committing finished block ranges behind the applying thread, in order, one transaction each.

Two writers with the same interface:
- `ThreadWriter`: a thread of this process (follow mode: a few blocks at a time);
- `ProcessWriter`: a child process (backfill). The GIL would otherwise serialise the writing
  with fetching and applying: SQLite's executemany gives the GIL back on every row and waits
  for it again, so a writer thread mostly waits while the applying thread holds it.

The child is a fresh interpreter (`python -m indexer.writer`), not a fork: a fork shares the
indexer's heap copy-on-write, and an indexer holding a large state (or any large heap) then pays
a page copy for each page either process writes to; a backfill forked from a 2 GB heap ran
at 70 % of the speed of one started fresh. It takes most of a second to start: the indexer
writes with a thread until it is `ready`, then hands over at a range boundary.
The database URL reaches it through the pipe, never its command line (which anyone may read
in `ps`); the command line names the database with the password hidden.

Either way a range's rows and the cursor commit in one transaction (`store.write_range`), ranges
commit in order, and after a failure nothing later is written (it would skip a range). The
child dies with its parent (Linux: `PR_SET_PDEATHSIG`; and it stops at the end of its input),
so a kill -9 of the indexer leaves no writer behind; a kill of the child leaves at most a
rolled-back transaction, and the parent raises `WriterDiedError`. The child is in a process
group of its own, so a Ctrl-C reaches only the parent, which stops it after the ranges already
applied are written, as the thread writer does.
"""

from __future__ import annotations

import ctypes
import fcntl
import gc
import marshal
import os
import pickle
import queue
import signal
import subprocess
import sys
import threading
from dataclasses import fields
from multiprocessing.connection import Connection
from pathlib import Path

from sqlalchemy import Engine

from chain.errors import ChainError
from indexer import store
from indexer.db import make_engine

PR_SET_PDEATHSIG = 1
F_SETPIPE_SZ = 1031


class WriterDiedError(ChainError):
    def __init__(self, code: int | None) -> None:
        super().__init__(
            f"the indexer's writer process ended unexpectedly (exit code {code}); "
            "the mirror is at the last committed range, run the indexer again to resume"
        )


class ThreadWriter:
    def __init__(self, engine: Engine, *, depth: int = 4) -> None:
        self.engine = engine
        self.queue: queue.Queue[store.RangeWrite | None] = queue.Queue(maxsize=depth)
        self.failure: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True, name="indexer-writer")
        self.thread.start()

    def _run(self) -> None:
        while True:
            write = self.queue.get()
            if write is None:
                return
            if self.failure is not None:
                continue  # after a failure, nothing later may be written: it would skip a range
            try:
                store.write_range(self.engine, write)
            except BaseException as exc:  # noqa: BLE001  # kept: close() hands it to the caller
                self.failure = exc

    @property
    def failed(self) -> bool:
        return self.failure is not None

    def put(self, write: store.RangeWrite) -> None:
        self.queue.put(write)

    def close(self) -> BaseException | None:
        """Wait until every range put is written (or skipped after a failure); the first failure."""
        self.queue.put(None)
        self.thread.join()
        return self.failure


class ProcessWriter:
    def __init__(self, engine: Engine, *, depth: int = 2) -> None:
        data_in, data_out = os.pipe()
        acks_in, acks_out = os.pipe()
        try:  # fewer, larger writes: each one gives the GIL back and waits to take it again
            fcntl.fcntl(data_out, F_SETPIPE_SZ, 1 << 20)
        except OSError:
            pass
        root = str(Path(__file__).resolve().parent.parent)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
        shown = engine.url.render_as_string(hide_password=True)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "indexer.writer", str(data_in), str(acks_out), str(os.getpid()), shown],
            pass_fds=(data_in, acks_out),
            stdin=subprocess.DEVNULL,
            env=env,
            process_group=0,
        )
        os.close(data_in)
        os.close(acks_out)
        self.data = Connection(data_out, readable=False)
        self.acks = Connection(acks_in, writable=False)
        self.started = False
        self.sent = 0
        self.done = 0
        self.failure: BaseException | None = None
        # encoded ranges wait here; a thread sends them (without the GIL while the pipe is full)
        self.outbox: queue.Queue[bytes | None] = queue.Queue(maxsize=depth)
        self.outbox.put(pickle.dumps(engine.url.render_as_string(hide_password=False)))  # the child's first message
        self.sender = threading.Thread(target=self._send, daemon=True, name="indexer-writer-send")
        self.sender.start()

    def _send(self) -> None:
        broken = False
        while True:
            payload = self.outbox.get()
            if payload is None:
                break
            if not broken:
                try:
                    self.data.send_bytes(payload)
                except OSError:
                    broken = True  # the child is gone; close() reports it
        try:
            if not broken:
                self.data.send_bytes(b"")  # stop after the ranges sent
        except OSError:
            pass
        self.data.close()

    def _receive(self) -> None:
        """Take one message of the child: it is ready, a range's outcome, or its end."""
        try:
            kind, payload = self.acks.recv()
        except (EOFError, OSError):
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                pass
            self.failure = WriterDiedError(self.process.returncode)
            return
        if kind == "ready":
            self.started = True
            return
        self.done += 1
        if kind == "error":
            self.failure = payload

    def _poll(self) -> None:
        while self.failure is None and self.acks.poll():
            self._receive()

    @property
    def failed(self) -> bool:
        self._poll()
        return self.failure is not None

    @property
    def ready(self) -> bool:
        """The child has started (its imports take most of a second) and can take ranges at once."""
        self._poll()
        return self.started and self.failure is None

    def put(self, write: store.RangeWrite) -> None:
        self.outbox.put(encode(write))
        self.sent += 1

    def abandon(self) -> None:
        """Stop a child that was given no range (it may still be starting)."""
        assert self.sent == 0, "a child that was given ranges is stopped by close()"
        self.outbox.put(None)
        self.sender.join()
        self.process.kill()
        self.process.wait()
        self.acks.close()

    def close(self) -> BaseException | None:
        """Wait until every range put is written (or skipped after a failure), stop the child;
        returns the first failure."""
        self.outbox.put(None)
        self.sender.join()
        while self.done < self.sent and self.failure is None:
            self._receive()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:  # it should have stopped after the ranges sent
            self.process.kill()
            self.process.wait()
        self.acks.close()
        return self.failure


def _child(data: Connection, acks: Connection, parent: int) -> None:
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # the parent's death, even by kill -9, kills us
    except OSError:
        pass
    if os.getppid() != parent:  # it died before the line above
        os._exit(1)
    gc.disable()  # we make no cycles
    try:
        engine = make_engine(pickle.loads(data.recv_bytes()))
    except (EOFError, OSError):
        return  # the parent is gone
    engine.connect().close()
    acks.send(("ready", None))
    failed = False
    while True:
        try:
            payload = data.recv_bytes()
        except (EOFError, OSError):
            break  # the parent is gone
        if not payload:
            break
        if failed:
            acks.send(("skipped", None))
            continue
        try:
            store.write_range(engine, decode(payload))
            acks.send(("ok", None))
        except BaseException as exc:  # noqa: BLE001  (handed to the parent)
            failed = True
            acks.send(("error", _portable(exc)))
    engine.dispose()


# A range travels as marshal, not pickle: it is plain tuples, lists, dicts, ints, strings and bytes,
# which marshal writes 3x and reads 7x faster (about 2 s of CPU less per 200,000 events). Both ends
# are the same interpreter (marshal's format may change between Python versions).
RANGE_FIELDS = tuple(f.name for f in fields(store.RangeWrite))


def encode(write: store.RangeWrite) -> bytes:
    return marshal.dumps(tuple(getattr(write, name) for name in RANGE_FIELDS))


def decode(payload: bytes) -> store.RangeWrite:
    return store.RangeWrite(*marshal.loads(payload))


def _portable(exc: BaseException) -> BaseException:
    """The exception itself if it survives pickling, else a RuntimeError saying what it was."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001
        return RuntimeError(f"{type(exc).__name__}: {exc}")


if __name__ == "__main__":  # the writer process: python -m indexer.writer DATA_FD ACKS_FD PARENT_PID DATABASE
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us in order
    _child(Connection(int(sys.argv[1]), writable=False), Connection(int(sys.argv[2]), readable=False), int(sys.argv[3]))
