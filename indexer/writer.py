"""Committing finished block ranges behind the applying thread, in order, one transaction each.

Two writers with the same interface:
- `ThreadWriter`: a thread of this process (follow mode: a few blocks at a time);
- `ProcessWriter`: a child process (backfill). The GIL would otherwise serialise the writing
  with fetching and applying: SQLite's executemany gives the GIL back on every row and waits
  for it again, so a writer thread mostly waits while the applying thread holds it.

Either way a range's rows and the cursor commit in one transaction (`store.write_range`), ranges
commit in order, and after a failure nothing later is written (it would skip a range). The
child process dies with its parent (Linux: `PR_SET_PDEATHSIG`), so a kill -9 of the indexer
leaves no writer behind; a kill of the child leaves at most a rolled-back transaction, and the
parent raises `WriterDiedError`. The child ignores Ctrl-C: the parent stops it after the ranges
already applied are written, as the thread writer does.
"""

from __future__ import annotations

import ctypes
import fcntl
import gc
import multiprocessing
import os
import pickle
import queue
import signal
import threading
from typing import Any

from sqlalchemy import Engine

from chain.errors import ChainError
from indexer import store

PR_SET_PDEATHSIG = 1
F_SETPIPE_SZ = 1031


class WriterDiedError(ChainError):
    def __init__(self, code: int | None) -> None:
        super().__init__(f"the indexer's writer process ended unexpectedly (exit code {code}); "
                         "the mirror is at the last committed range, run the indexer again to resume")


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
            except BaseException as exc:
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
        context = multiprocessing.get_context("fork")  # the child reuses the loaded modules: starts in ms
        data_in, self.data = context.Pipe(duplex=False)
        try:  # fewer, larger writes: each one gives the GIL back and waits to take it again
            fcntl.fcntl(self.data.fileno(), F_SETPIPE_SZ, 1 << 20)
        except OSError:
            pass
        self.acks, ack_out = context.Pipe(duplex=False)
        self.process = context.Process(target=_child, args=(engine, data_in, ack_out, os.getpid()),
                                       name="indexer-writer", daemon=True)
        self.process.start()
        data_in.close()
        ack_out.close()
        self.sent = 0
        self.done = 0
        self.failure: BaseException | None = None
        # pickled ranges wait here; a thread sends them (without the GIL while the pipe is full)
        self.outbox: queue.Queue[bytes | None] = queue.Queue(maxsize=depth)
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

    def _read_acks(self, *, wait: bool) -> None:
        while self.done < self.sent and self.failure is None:
            if not wait and not self.acks.poll():
                return
            try:
                kind, payload = self.acks.recv()
            except (EOFError, OSError):
                self.process.join(5)
                self.failure = WriterDiedError(self.process.exitcode)
                return
            self.done += 1
            if kind == "error":
                self.failure = payload

    @property
    def failed(self) -> bool:
        self._read_acks(wait=False)
        return self.failure is not None

    def put(self, write: store.RangeWrite) -> None:
        payload = pickle.dumps(write, protocol=pickle.HIGHEST_PROTOCOL)
        self.outbox.put(payload)
        self.sent += 1

    def close(self) -> BaseException | None:
        """Wait until every range put is written (or skipped after a failure), stop the child;
        returns the first failure."""
        self.outbox.put(None)
        self.sender.join()
        self._read_acks(wait=True)
        self.process.join(30)
        if self.process.is_alive():  # it should have stopped after the ranges sent
            self.process.kill()
            self.process.join()
        self.acks.close()
        return self.failure


_INHERITED: list[Any] = []


def _child(engine: Engine, data: Any, acks: Any, parent: int) -> None:
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # the parent's death, even by kill -9, kills us
    except OSError:
        pass
    if os.getppid() != parent:  # it died before the line above
        os._exit(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the parent stops us in order
    gc.disable()  # a collection would touch (and so copy) every object of the parent's heap; we make no cycles
    _INHERITED.append(engine.pool)  # never closed (nor freed) here: they are the parent's connections
    engine.dispose(close=False)  # connections of our own from here on
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
            store.write_range(engine, pickle.loads(payload))
            acks.send(("ok", None))
        except BaseException as exc:  # noqa: BLE001  (handed to the parent)
            failed = True
            acks.send(("error", _portable(exc)))
    engine.dispose()


def _portable(exc: BaseException) -> BaseException:
    """The exception itself if it survives pickling, else a RuntimeError saying what it was."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001
        return RuntimeError(f"{type(exc).__name__}: {exc}")
