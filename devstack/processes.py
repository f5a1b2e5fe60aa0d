"""Child processes of the local stack and the benchmarks."""

from __future__ import annotations

import ctypes
import signal
import subprocess
import sys
from collections.abc import Callable
from socketserver import BaseServer
from types import FrameType
from typing import Any

_PR_SET_PDEATHSIG = 1


def terminate(process: subprocess.Popen[Any], timeout: float = 10.0) -> None:
    """Stop `process`: SIGTERM, then SIGKILL if it has not exited within `timeout` seconds."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def die_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A Popen `preexec_fn` that sends the child `sig` when the thread that started it dies.

    Linux only (None elsewhere). The supervisor's own shutdown is the normal path; this
    covers the supervisor being killed outright (SIGKILL, a crash), which would otherwise
    leave Postgres or PostgREST holding their ports. Call it from the thread that outlives
    the child: the kernel watches the starting thread, not the process.
    """
    if not sys.platform.startswith("linux"):
        return None
    # Loaded here, in the parent: the child between fork and exec should only make the call.
    prctl = ctypes.CDLL("libc.so.6", use_errno=True).prctl

    def arm() -> None:
        prctl(_PR_SET_PDEATHSIG, sig)

    return arm


def serve_until_terminated(server: BaseServer) -> int:
    """Serve until SIGTERM or Ctrl-C (how the stack's supervisor stops a child), then close; returns 0."""

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
