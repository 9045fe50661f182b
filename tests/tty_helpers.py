"""Run a command on a pseudo-terminal, as a person at a terminal would, and read what it
drew (progress bars are drawn only on terminals)."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import termios
from pathlib import Path


def run_on_tty(cmd: list[str], cwd: Path, env: dict[str, str] | None = None,
               timeout: float = 180) -> tuple[int, str, str]:
    """``(exit code, stdout, what the terminal showed)``: stderr (and stdin) on a 120 x 40
    pseudo-terminal, stdout on a pipe; carriage returns become newlines."""
    env = {k: v for k, v in (env or os.environ).items() if k != "CI"}
    main, tty = pty.openpty()
    fcntl.ioctl(tty, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    with subprocess.Popen(cmd, cwd=cwd, env=env, stdin=tty, stdout=subprocess.PIPE,
                          stderr=tty) as proc:
        os.close(tty)
        shown = b""
        while True:
            try:
                data = os.read(main, 65536)
            except OSError:  # the other side closed
                break
            if not data:
                break
            shown += data
        os.close(main)
        out = proc.stdout.read().decode() if proc.stdout else ""
        code = proc.wait(timeout)
    return code, out, shown.decode(errors="replace").replace("\r", "\n")
