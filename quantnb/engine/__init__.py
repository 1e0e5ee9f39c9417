"""Engines: the strategy API, the context both modes share, and the backtest loop."""
