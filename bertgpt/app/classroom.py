"""Sharing one server with a class: who trains now, who waits (and is told their place),
who is told to come back later, and how many CPU threads a training run may take.

Gradio's own queue would make a student's Train click wait silently behind every other
run, however long the line. `TrainGate` does the waiting inside the handler instead: at
most `slots` runs train at once, at most `max_waiting` wait in arrival order and see
"you are number N", and anyone beyond that is refused at once with the length of the line,
free to explore the other tabs and try again.
"""
from __future__ import annotations

import os
import threading
from itertools import count

from .. import settings


def train_threads(cores: int | None = None) -> int:
    """CPU threads for one training run. On a small class server one core is kept for
    the other tabs: a run that takes every core makes each click elsewhere wait for the
    OS to schedule it (BERTGPT_TRAIN_THREADS overrides)."""
    env = settings.current()
    if env.bertgpt_train_threads is not None:
        return max(1, env.bertgpt_train_threads)
    cores = cores or os.cpu_count() or 1
    return max(1, (cores - 1) // max(env.bertgpt_train_concurrency, 1))


class ClassBusy(Exception):
    """Too many runs are waiting; `position` is the place this one would have had."""

    def __init__(self, position: int, slots: int):
        self.position = position
        super().__init__(
            f"The class is busy: {position - 1} training runs are already waiting, so you "
            f"would be number {position} in line ({slots} run(s) train at a time). Try again "
            "in a minute; every other tab works meanwhile.")


class TrainGate:
    """First come, first served admission of training runs (thread-safe).

    join() -> ticket, or ClassBusy when the line is full; wait(ticket, timeout) -> True
    once the ticket may train; position(ticket): 0 while training, N = N-th in line;
    leave(ticket) when the run is over or abandoned (any state; twice is harmless).
    The app passes BERTGPT_TRAIN_CONCURRENCY and BERTGPT_TRAIN_QUEUE (settings.py)."""

    def __init__(self, slots: int, max_waiting: int):
        self.slots, self.max_waiting = max(1, slots), max(0, max_waiting)
        self._cond = threading.Condition()
        self._ids = count(1)
        self._waiting: list[int] = []
        self._running: set[int] = set()

    def join(self) -> int:
        with self._cond:
            if len(self._waiting) >= self.max_waiting and len(self._running) >= self.slots:
                raise ClassBusy(len(self._waiting) + 1, self.slots)
            ticket = next(self._ids)
            self._waiting.append(ticket)
            self._admit()
            return ticket

    def _admit(self) -> None:
        while self._waiting and len(self._running) < self.slots:
            self._running.add(self._waiting.pop(0))
        self._cond.notify_all()

    def wait(self, ticket: int, timeout: float) -> bool:
        with self._cond:
            if ticket not in self._running:
                self._cond.wait_for(lambda: ticket in self._running, timeout)
            return ticket in self._running

    def position(self, ticket: int) -> int:
        with self._cond:
            if ticket in self._running:
                return 0
            return self._waiting.index(ticket) + 1 if ticket in self._waiting else -1

    def leave(self, ticket: int) -> None:
        with self._cond:
            self._running.discard(ticket)
            if ticket in self._waiting:
                self._waiting.remove(ticket)
            self._admit()

    def counts(self) -> dict:
        with self._cond:
            return {"training": len(self._running), "waiting": len(self._waiting)}


def waiting_text(position: int, slots: int) -> str:
    """The status a waiting student sees, refreshed about twice a second."""
    return (f"**Waiting for the trainer: you are number {position} in line** ({slots} run(s) "
            "train at a time). Your run starts by itself; the other tabs work meanwhile.")
