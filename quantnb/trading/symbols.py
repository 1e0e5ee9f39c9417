"""Check a run's symbols with the gateway before it starts: an unknown one fails ``start()``
naming it, or, with ``skip_unknown=True``, the run starts with the others only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from quantnb.errors import DataError, UnknownSymbolError

logger = logging.getLogger(__name__)


async def known_symbols(
    contracts: Any,
    symbols: tuple[str, ...],
    *,
    skip_unknown: bool,
    timeout: float,
    on_skip: Callable[[str, str], None] | None = None,
) -> tuple[str, ...]:
    """``symbols`` less those the gateway does not know (UnknownSymbolError unless
    ``skip_unknown``); a lookup that fails for another reason is left to the run to retry."""

    async def look_up(symbol: str) -> Any:
        return await asyncio.wait_for(contracts.qualify(symbol), timeout)

    results = await asyncio.gather(*(look_up(s) for s in symbols), return_exceptions=True)
    unknown = {s: str(r) for s, r in zip(symbols, results, strict=True) if isinstance(r, DataError)}
    for s, r in zip(symbols, results, strict=True):
        if isinstance(r, BaseException) and s not in unknown:
            logger.info("could not check %s with the gateway before the start: %r", s, r)
    if not unknown:
        return symbols
    names = ", ".join(unknown)
    kept = tuple(s for s in symbols if s not in unknown)
    if not skip_unknown:
        others = f"start(skip_unknown=True) trades {', '.join(kept)} only" if kept else ""
        raise UnknownSymbolError(
            f"the gateway does not know {names} (no US stock of that name on SMART): nothing "
            f"was started. Check the spelling{'; or ' + others if others else ''}",
            symbols=tuple(unknown),
        )
    if not kept:
        raise UnknownSymbolError(
            f"the gateway knows none of the symbols {names}: nothing to trade; check the spelling",
            symbols=tuple(unknown),
        )
    for s, why in unknown.items():
        logger.warning("skipping %s: %s", s, why)
        if on_skip is not None:
            on_skip(s, why)
    return kept
