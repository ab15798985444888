"""``reel up``'s supervisor: start the embedded mode's processes, keep them up, stop them all.

Why a supervisor and not the API with two subprocesses beside it: a signal to ``reel up``
(a terminal closing, a service manager, a container runtime) must reach everything it
started, a child that dies must come back, and neither may depend on the API's own
shutdown path (uvicorn waits on open event streams; a Celery warm shutdown waits for the
running task). So ``reel up`` only supervises:

- each child runs in a process group (a session) of its own, so a stop reaches what the
  child started itself (a Celery worker's pool children) and a Ctrl-C in the terminal
  reaches only the supervisor, which then stops the children in order;
- SIGTERM, SIGINT or SIGHUP: SIGTERM to every child's group, up to ``grace_s`` for them
  to finish, then SIGKILL to the groups still alive; a second signal forces at once;
- a child that exits while Reel is up is restarted after a backoff that doubles on each
  quick death (``backoff_s`` .. ``backoff_max_s``; a child that stayed up ``stable_s``
  starts again from ``backoff_s``), and every restart is logged;
- on Linux each child asks the kernel for SIGTERM if the supervisor itself dies
  (``PR_SET_PDEATHSIG``), so even a SIGKILLed ``reel up`` leaves no orphan behind.

Exits are awaited through pidfds (Linux) and a self-pipe for signals, so the loop sleeps
until something happens; elsewhere it looks every half second.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import FrameType

log = logging.getLogger("reel.up")

_PR_SET_PDEATHSIG = 1
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


@dataclass(frozen=True)
class ChildSpec:
    """One process ``reel up`` runs: a name for the logs and its command line."""

    name: str
    argv: Sequence[str]


@dataclass
class _Child:
    spec: ChildSpec
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    quick_deaths: int = 0
    restarts: int = 0
    due: float | None = None  # when a dead child is started again
    pidfd: int | None = None
    reaped: bool = False  # its exit was seen and its group cleaned up


def describe_exit(returncode: int) -> str:
    """``-9`` -> ``"signal SIGKILL"``, ``3`` -> ``"exit code 3"``."""
    if returncode < 0:
        try:
            return f"signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"signal {-returncode}"
    return f"exit code {returncode}"


def _die_with_parent_hook() -> Callable[[], None] | None:
    """A ``preexec_fn`` asking Linux to SIGTERM the child when the supervisor dies."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM))
        if os.getppid() != parent:  # the supervisor died before the request took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return hook


@dataclass
class Supervisor:
    """Runs ``specs`` until told to stop; see the module docstring for the rules."""

    specs: Sequence[ChildSpec]
    env: dict[str, str] | None = None
    grace_s: float = 30.0
    backoff_s: float = 1.0
    backoff_max_s: float = 60.0
    stable_s: float = 30.0
    _children: list[_Child] = field(default_factory=list, init=False)
    _signals: list[int] = field(default_factory=list, init=False)

    # -- the public surface ------------------------------------------------------------
    def start(self) -> None:
        """Start every child (call once, from the main thread)."""
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._old_wakeup = signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)
        self._old_handlers = {sig: signal.signal(sig, self._on_signal) for sig in _STOP_SIGNALS}
        self._children = [_Child(spec) for spec in self.specs]
        for child in self._children:
            self._spawn(child)

    def run(self) -> int:
        """Supervise until a stop signal, then stop every child; returns ``reel up``'s exit code."""
        try:
            while not self._signals:
                self._wait(self._next_timeout())
                self._reap(restart=True)
                self._start_due()
            log.info("reel up: %s received, stopping", signal.Signals(self._signals[0]).name)
            self.stop()
        finally:
            self._close()
        return 0

    def stop(self) -> None:
        """SIGTERM to every child's group, wait up to ``grace_s``, then SIGKILL what is left."""
        for child in self._children:
            child.due = None
            if child.proc is not None and child.proc.poll() is None:
                self._signal_group(child, signal.SIGTERM)
        handled = len(self._signals)
        deadline = time.monotonic() + self.grace_s
        while self._alive() and time.monotonic() < deadline and len(self._signals) <= handled:
            self._wait(min(deadline - time.monotonic(), self._poll_cap()))
            self._reap(restart=False)
        for child in self._alive():
            log.warning("reel up: %s (pid %s) did not stop in %gs; killing it",
                        child.spec.name, child.proc.pid if child.proc else "?", self.grace_s)
            self._signal_group(child, signal.SIGKILL)
        for child in self._children:
            if child.proc is not None and not child.reaped:
                child.proc.wait()
                child.reaped = True
                self._signal_group(child, signal.SIGKILL)  # whatever it started and left behind
                self._forget_pidfd(child)

    @property
    def pids(self) -> dict[str, int]:
        """name -> pid of each running child (for tests and logs)."""
        return {c.spec.name: c.proc.pid for c in self._children if c.proc is not None and c.proc.poll() is None}

    # -- children ----------------------------------------------------------------------
    def _spawn(self, child: _Child) -> None:
        child.proc = subprocess.Popen(
            list(child.spec.argv), env=self.env, start_new_session=True, preexec_fn=_die_with_parent_hook()
        )
        child.started_at = time.monotonic()
        child.due = None
        child.reaped = False
        pidfd_open = getattr(os, "pidfd_open", None)
        if pidfd_open is not None:
            try:
                child.pidfd = pidfd_open(child.proc.pid)
                self._selector.register(child.pidfd, selectors.EVENT_READ, child)
            except OSError:
                child.pidfd = None
        log.info("reel up: started %s (pid %d)", child.spec.name, child.proc.pid)

    def _reap(self, *, restart: bool) -> None:
        for child in self._children:
            if child.proc is None or child.reaped:
                continue
            code = child.proc.poll()
            if code is None:
                continue
            child.reaped = True
            self._forget_pidfd(child)
            self._signal_group(child, signal.SIGKILL)  # pool children it may have left
            if not restart:
                log.info("reel up: %s (pid %d) stopped with %s", child.spec.name, child.proc.pid, describe_exit(code))
                continue
            ran = time.monotonic() - child.started_at
            child.quick_deaths = 0 if ran >= self.stable_s else child.quick_deaths
            delay = min(self.backoff_s * 2**child.quick_deaths, self.backoff_max_s)
            child.quick_deaths += 1
            child.restarts += 1
            child.due = time.monotonic() + delay
            log.warning("reel up: %s (pid %d) exited with %s after %.1fs; restarting in %gs (restart %d)",
                        child.spec.name, child.proc.pid, describe_exit(code), ran, delay, child.restarts)

    def _start_due(self) -> None:
        now = time.monotonic()
        for child in self._children:
            if child.due is not None and child.due <= now:
                self._spawn(child)
                log.warning("reel up: restarted %s (pid %d)", child.spec.name, child.proc.pid if child.proc else -1)

    def _alive(self) -> list[_Child]:
        return [c for c in self._children if c.proc is not None and c.proc.poll() is None]

    @staticmethod
    def _signal_group(child: _Child, sig: int) -> None:
        if child.proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(child.proc.pid, sig)  # start_new_session: its pid is its group's id

    def _forget_pidfd(self, child: _Child) -> None:
        if child.pidfd is not None:
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(child.pidfd)
            os.close(child.pidfd)
            child.pidfd = None

    # -- waiting -----------------------------------------------------------------------
    def _poll_cap(self) -> float:
        """With pidfds every exit wakes the loop; without them (not Linux, old kernel), look twice a second."""
        running = [c for c in self._children if c.proc is not None and not c.reaped]
        return 3600.0 if all(c.pidfd is not None for c in running) else 0.5

    def _next_timeout(self) -> float:
        due = [c.due for c in self._children if c.due is not None]
        until_due = max(0.0, min(due) - time.monotonic()) if due else self._poll_cap()
        return min(until_due, self._poll_cap())

    def _wait(self, timeout: float) -> None:
        for key, _ in self._selector.select(max(0.0, timeout)):
            if key.fd == self._wake_r:
                with contextlib.suppress(BlockingIOError):
                    while os.read(self._wake_r, 512):
                        pass

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self._signals.append(signum)

    def _close(self) -> None:
        signal.set_wakeup_fd(self._old_wakeup)
        for sig, handler in self._old_handlers.items():
            signal.signal(sig, handler)
        for child in self._children:
            self._forget_pidfd(child)
        self._selector.close()
        os.close(self._wake_r)
        os.close(self._wake_w)
