"""The one exception hierarchy of quantnb: catch ``QuantnbError`` for all of them.

Every message names the bad value and, where there is one, the fix.
"""

from __future__ import annotations


class QuantnbError(Exception):
    """Base class of every error quantnb raises on purpose."""


class ConfigError(QuantnbError, ValueError):
    """A setting or argument that cannot work (bad cash, unknown option, bad environment)."""


class OptionError(ConfigError, TypeError):
    """A keyword option that a function does not take (a typo such as ``jurnal_dir=``)."""


class DataError(QuantnbError, ValueError):
    """Market data that fails validation: unsorted, duplicate, NaN, non-positive, high < low."""


class IntervalError(DataError):
    """An interval, IB bar size or IB duration string that is not understood."""


class OrderError(QuantnbError, ValueError):
    """An order that is invalid as written (non-positive quantity, unknown symbol, no price).

    ``order_id`` names the order when the error is about one that was made (None otherwise).
    """

    def __init__(self, *args: object, order_id: str | None = None) -> None:
        super().__init__(*args)
        self.order_id = order_id


class UnknownSymbolError(DataError):
    """Symbols the gateway does not know; ``symbols`` lists them."""

    def __init__(self, *args: object, symbols: tuple[str, ...] = ()) -> None:
        super().__init__(*args)
        self.symbols = tuple(symbols)


class LookAheadError(QuantnbError):
    """An indicator whose past values change when future bars are added: it peeks ahead."""


class GatewayError(QuantnbError):
    """The IB gateway (real or simulated) refused a request or reported an error."""


class PacingError(GatewayError):
    """IB refused a historical-data request for its pacing rules (error 162): ask again later."""


class PermissionsError(GatewayError):
    """IB serves no history or bars to this login: it has no live market-data subscription
    (error 162 "No market data permissions"). Asking again does not help."""


class NotConnectedError(GatewayError, ConnectionError):
    """A request that needs the gateway while it is not connected; nothing was sent."""


class LiveTradingError(QuantnbError):
    """Real-money trading without every opt-in it needs, or an account of the wrong kind."""


class JournalError(QuantnbError):
    """The live journal cannot be opened, read or written."""


class QuantnbWarning(UserWarning):
    """Base class of every warning quantnb issues: filter them all with this."""


class UnadjustedSplitWarning(QuantnbWarning):
    """Bars with a one-bar jump that looks like a stock split their prices are not adjusted for."""


class StrategyHookWarning(QuantnbWarning):
    """A strategy whose hooks quantnb never calls (another library's names, such as ``next``)
    or whose hooks take the wrong arguments."""


class NoBarsWarning(QuantnbWarning):
    """A live run stopped without handing its strategy a single bar; the message says why."""
