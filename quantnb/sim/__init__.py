"""A gateway simulator that speaks the TWS API wire protocol on loopback.

The real, unmodified IB clients (ib_async, ib_insync) connect to it, fetch bars, stream ticks
and trade against a deterministic market::

    with GatewaySimulator() as sim:
        IB().connect(sim.host, sim.port, clientId=1)
"""

from quantnb.sim.config import PacingRule, SimConfig
from quantnb.sim.control import GatewaySimulator

__all__ = ["GatewaySimulator", "PacingRule", "SimConfig"]
