"""Server processes we start and stop by PID, never by name: whether a recorded PID is alive and
still ours, stopping its process group, and what a failed start left in its log."""
from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

from streamsuite.procfs import process_state


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return process_state(pid) != "Z"


def owned_pid(service) -> int | None:
    """The PID a service (its `pid_file`, its `folder`) recorded, if that process is alive and still ours
    (it runs in the service's folder)."""
    try:
        pid = int(service.pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    if not pid_alive(pid):
        return None
    try:
        return pid if Path(os.readlink(f"/proc/{pid}/cwd")) == service.folder else None
    except OSError:
        return pid


def stop_pid(pid: int, timeout_s: float = 20.0) -> None:
    """SIGTERM the process group we started, then SIGKILL if it does not exit in time."""
    for sig, wait_s in ((signal.SIGTERM, timeout_s), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        except PermissionError:
            os.kill(pid, sig)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if not pid_alive(pid):
                _reap(pid)
                return
            time.sleep(0.1)


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def log_tail(path: Path, limit: int = 4000) -> str:
    try:
        return path.read_bytes()[-limit:].decode(errors="replace")
    except OSError:
        return ""


def ephemeral_port_note(port: int) -> str:
    """A port in the kernel's ephemeral range can be taken by any outgoing connection while our
    server is down (seen: a broker restarted by the fault harness found its port in use)."""
    try:
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        return ""
    if low <= port <= high:
        return f" below {low}: {port} is in this machine's ephemeral range ({low}-{high}), used by outgoing connections"
    return ""


def port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
            return True
        except OSError:
            return False


def last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"
