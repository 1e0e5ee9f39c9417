"""Broker adapters that need no network: the simulated broker used by backtests."""

from quantnb.broker.simulated import SimulatedBroker

__all__ = ["SimulatedBroker"]
