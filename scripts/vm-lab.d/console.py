#!/usr/bin/env python3
"""Drives a vm-lab guest through its serial console (a QEMU socket chardev).

    console.py wait-ready LOG PID TIMEOUT GUEST   waits for "vm-lab: GUEST ready" in the console log
    console.py run SOCKET TIMEOUT NAME COMMAND    runs COMMAND in the guest (scripts/vm-lab.d/agent),
                                                  prints its output, exits with its status

wait-ready exits 1 with the console's last lines when QEMU (PID) dies or TIMEOUT seconds pass.
run exits 124 with one line naming NAME when no status arrives within TIMEOUT seconds.
"""
import re
import secrets
import socket
import sys
import time
from pathlib import Path

TAIL_LINES = 25


def alive(pid):
    try:
        Path(f"/proc/{pid}").stat()
        return True
    except FileNotFoundError:
        return False


def wait_ready(log, pid, timeout, guest):
    marker = f"vm-lab: {guest} ready"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = Path(log).read_text(errors="replace") if Path(log).exists() else ""
        if marker in text:
            return 0
        if not alive(pid):
            break
        time.sleep(0.5)
    why = "QEMU exited" if not alive(pid) else f"not ready within {timeout:.0f} s"
    print(f"vm-lab: {guest} did not boot ({why}); last console lines ({log}):", file=sys.stderr)
    lines = (Path(log).read_text(errors="replace") if Path(log).exists() else "").splitlines()
    for line in lines[-TAIL_LINES:] or ["(no console output)"]:
        print(f"  | {line.rstrip()}", file=sys.stderr)
    return 1


def run(socket_path, timeout, name, command):
    deadline = time.monotonic() + timeout
    token = secrets.token_hex(6)
    status = re.compile(rb"@@vm-lab-" + token.encode() + rb"-status=(\d+)@@")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as console:
        console.connect(socket_path)
        console.sendall(f"{token} {command}\n".encode())
        received = b""
        while True:
            match = status.search(received)
            if match:
                sys.stdout.write(received[:match.start()].replace(b"\r", b"").decode(errors="replace"))
                return int(match.group(1))
            left = deadline - time.monotonic()
            if left <= 0:
                sys.stdout.write(received.replace(b"\r", b"").decode(errors="replace"))
                print(f"vm-lab: job '{name}' timed out after {timeout:.0f} s", file=sys.stderr)
                return 124
            console.settimeout(min(left, 1.0))
            try:
                chunk = console.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                print(f"vm-lab: job '{name}': the guest's console closed (QEMU exited?)", file=sys.stderr)
                return 125
            received += chunk


def main(argv):
    if len(argv) == 6 and argv[1] == "wait-ready":
        return wait_ready(argv[2], int(argv[3]), float(argv[4]), argv[5])
    if len(argv) == 6 and argv[1] == "run":
        return run(argv[2], float(argv[3]), argv[4], argv[5])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
