"""``python -m quantnb.sim``: run a gateway simulator on loopback until Ctrl-C.

Example: ``python -m quantnb.sim --port 4002 --speed 60 --symbols AAPL,MSFT --seed 0``; nights,
weekends and holidays pass at the same speed unless ``--skip-closed``.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path

from quantnb.errors import QuantnbError
from quantnb.sim.config import SimConfig


class _Parser(argparse.ArgumentParser):
    """Argument errors as one line and exit code 2, without the usage block."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"quantnb.sim: error: {message} (see --help)\n")
        raise SystemExit(2)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m quantnb.sim", description="Simulated IB gateway on loopback.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    p.add_argument("--port", type=int, default=4002, help="API port (4002, IB Gateway paper)")
    p.add_argument("--speed", type=float, default=60.0, help="market seconds per second (60)")
    p.add_argument("--manual", action="store_true", help="the clock moves only when stepped")
    p.add_argument(
        "--skip-closed",
        action="store_true",
        help="the realtime clock jumps over nights, weekends and holidays",
    )
    p.add_argument("--symbols", default="AAPL,MSFT,SPY", help="comma-separated universe")
    p.add_argument("--futures", default="", help="futures roots served, e.g. ES,NQ,CL")
    p.add_argument("--fx", default="", help="FX pairs served, e.g. EURUSD,USDJPY")
    p.add_argument("--indices", default="", help="indices served (data only), e.g. SPX")
    p.add_argument("--seed", type=int, default=0, help="random-walk seed (0)")
    p.add_argument("--account", default="DU1234567", help="paper account id")
    p.add_argument("--cash", type=float, default=100_000.0, help="starting cash in USD")
    p.add_argument("--account-type", choices=("margin", "cash"), default="margin")
    p.add_argument(
        "--market-data",
        choices=("live", "delayed", "none"),
        default="live",
        help="the login's market-data permission (live)",
    )
    p.add_argument("--start", default=None, help="market start time, e.g. '2024-01-03 15:00'")
    p.add_argument("--state", default=None, help="state file: loaded if present, saved at exit")
    p.add_argument("--control-port", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--machine", action="store_true", help=argparse.SUPPRESS)
    return p


def _fail(message: str, code: int) -> int:
    sys.stderr.write(f"quantnb.sim: error: {message}\n")
    return code


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from quantnb.sim.child import serve_control
    from quantnb.sim.control import GatewaySimulator
    from quantnb.sim.server import clock_text

    try:
        config = SimConfig(
            symbols=tuple(s for s in args.symbols.split(",") if s.strip()),
            futures=tuple(s for s in args.futures.split(",") if s.strip()),
            fx=tuple(s for s in args.fx.split(",") if s.strip()),
            indices=tuple(s for s in args.indices.split(",") if s.strip()),
            seed=args.seed,
            start=args.start,
            mode="manual" if args.manual else "realtime",
            speed=args.speed,
            skip_closed=args.skip_closed,
            host=args.host,
            port=args.port,
            account=args.account,
            cash=args.cash,
            account_type=args.account_type,
            market_data=args.market_data,
        )
        state_path = Path(args.state) if args.state else None
        if state_path is not None and state_path.exists():
            sim = GatewaySimulator.from_state(state_path, host=args.host, port=args.port)
            config = sim.config
        else:
            sim = GatewaySimulator(config)
        sim.start()
    except QuantnbError as exc:
        return _fail(str(exc), 2 if "listen" not in str(exc) else 1)

    done = threading.Event()  # set by the control channel's shutdown
    # SIGTERM stops like Ctrl-C; a handler that set the Event could deadlock on its lock
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    if args.machine:
        control = serve_control(sim, state_path, done) if args.control_port is not None else 0
        print(json.dumps({"port": sim.port, "control_port": control}), flush=True)
    else:
        mode = clock_text(config)
        print(f"quantnb gateway simulator listening on {sim.host}:{sim.port}")
        print(f"account {sim.account} ({config.account_type}, {config.cash:,.0f} USD)")
        print(f"symbols {', '.join(sim.symbols)}")
        print(f"market time {sim.now:%Y-%m-%d %H:%M} UTC, {mode}; Ctrl-C to stop", flush=True)
    try:
        while not done.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
        if state_path is not None and not args.machine:
            sim.save(state_path)
    if not args.machine:
        print("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
