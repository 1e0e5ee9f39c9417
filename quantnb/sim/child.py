"""Subprocess mode: the simulator in a child process, steered over a JSON-lines control socket.

The parent writes the initial state to a file; the child loads it, serves, and saves it again
when told to shut down, so a restart is a new process that carries on from the same state.
"""

from __future__ import annotations

import contextlib
import json
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import pandas as pd

from quantnb.errors import GatewayError
from quantnb.sim.config import SimConfig
from quantnb.sim.state import SimState

_START_TIMEOUT = 30.0


class _Subprocess:
    """Parent side: spawn, steer and stop the child process."""

    def __init__(
        self, config: SimConfig, bars: dict[str, pd.DataFrame] | None, state_path: Any
    ) -> None:
        self.config = config
        if state_path is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="quantnb-sim-")
            state_path = Path(self._tmp.name) / "sim.state"
        self.state_path = Path(state_path)
        if not self.state_path.exists():
            SimState(config, bars).save(self.state_path)
        self._port = config.port
        self._proc: subprocess.Popen[str] | None = None
        self._control: socket.socket | None = None
        self._reader: Any = None

    @property
    def port(self) -> int:
        return self._port

    def start(self) -> None:
        if self._proc is not None:
            return
        cmd = [
            sys.executable, "-m", "quantnb.sim", "--state", str(self.state_path),
            "--host", self.config.host, "--port", str(self._port), "--control-port", "0",
            "--machine",
        ]  # fmt: skip
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        timer = threading.Timer(_START_TIMEOUT, proc.kill)
        timer.start()
        try:
            line = proc.stdout.readline() if proc.stdout else ""
        finally:
            timer.cancel()
        if not line.startswith("{"):
            proc.kill()
            err = proc.stderr.read() if proc.stderr else ""
            raise GatewayError(f"the simulator process did not start: {(line + err).strip()}")
        info = json.loads(line)
        self._proc = proc
        self._port = int(info["port"])
        self._control = socket.create_connection(("127.0.0.1", int(info["control_port"])))
        self._reader = self._control.makefile("r", encoding="utf-8")

    def call(self, name: str, *args: Any) -> Any:
        if self._control is None:
            raise GatewayError("the simulator is not running: call start() first")
        self._control.sendall((json.dumps({"op": name, "args": list(args)}) + "\n").encode())
        reply = json.loads(self._reader.readline() or '{"error": "the simulator process died"}')
        if "error" in reply:
            raise GatewayError(reply["error"])
        result = reply.get("result")
        if name == "executions":
            for row in result:
                row["time"] = pd.Timestamp(row["time"])
        return result

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        with contextlib.suppress(OSError, GatewayError, ValueError):
            self.call("shutdown")
        try:
            proc.wait(timeout=_START_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        for stream in (self._reader, self._control, proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
        self._control = self._reader = None

    def restart(self, account: str | None = None) -> None:
        self.stop()
        if account is not None:  # the stopped child saved its state: log that in to ``account``
            state = SimState.load(self.state_path)
            state.switch_account(account)
            state.save(self.state_path)
        self.start()


def serve_control(sim: Any, state_path: Path | None, done: threading.Event) -> int:
    """Child side: answer control requests on a loopback port (returned) until ``shutdown``."""

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            for line in self.rfile:
                request = json.loads(line)
                op, args = request.get("op"), request.get("args", [])
                try:
                    if op == "shutdown":
                        sim.stop()
                        if state_path is not None:
                            sim.save(state_path)
                        reply: dict[str, Any] = {"result": None}
                        done.set()
                    else:
                        reply = {"result": sim._backend.call(op, *args)}
                except Exception as exc:
                    reply = {"error": f"{type(exc).__name__}: {exc}"}
                self.wfile.write((json.dumps(reply, default=str) + "\n").encode())
                self.wfile.flush()
                if op == "shutdown":
                    return

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="quantnb-sim-control", daemon=True).start()
    return server.server_address[1]
