"""Argument checks shared by the backtest and the live context: prices, share quantities, order
references and symbol lists. Each raises a quantnb error that names the value and the fix.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import numpy as np

from quantnb.errors import ConfigError, DataError, OrderError

# No exchange takes an order this large; past it float share counts stop being exact to the cent.
MAX_SHARES = 1e9


def number(
    name: str, value: Any, *, allow_zero: bool = False, allow_negative: bool = False
) -> float:
    """``value`` as a finite float; OrderError for text, booleans, NaN, inf, zero or negatives."""
    if isinstance(value, bool | np.bool_ | str | bytes) or not _numeric(value):
        hint = ""
        if _numeric_text(value):
            hint = f"; write it as a number, e.g. {name}={value.strip()}"
        raise OrderError(f"{name}={value!r} is not a number ({type(value).__name__}){hint}")
    try:
        x = float(value)
    except (TypeError, ValueError, OverflowError):
        raise OrderError(f"{name}={value!r} is not a number") from None
    if not math.isfinite(x):
        raise OrderError(f"{name}={value!r} must be a finite number")
    if x < 0 and not allow_negative:
        raise OrderError(f"{name}={value!r} must be positive")
    if x == 0 and not allow_zero:
        raise OrderError(f"{name}={value!r} must be positive, not zero")
    return x


def quantity(
    name: str, value: Any, *, allow_zero: bool = False, allow_negative: bool = False
) -> float:
    """A number of whole shares (as a float): quantnb has no fractional-share setting, so 0.5 or
    1e-9 shares is an error, never rounded silently."""
    kind = type(value)
    if kind is float or (kind is int and -MAX_SHARES <= value <= MAX_SHARES):
        # the common case, without the general checks below (same outcome for these types)
        x = float(value)
        if (0 < x <= MAX_SHARES or (x == 0 and allow_zero)) and x == math.trunc(x):
            return x
        if allow_negative and -MAX_SHARES <= x < 0 and x == math.trunc(x):
            return x
    x = number(name, value, allow_zero=allow_zero, allow_negative=allow_negative)
    if abs(x) > MAX_SHARES:
        raise OrderError(
            f"{name}={value!r} shares is beyond any real order (at most {MAX_SHARES:,.0f}); "
            "check how the quantity was computed"
        )
    # a Fraction or Decimal may be fractional although its nearest float is whole
    exact = isinstance(value, numbers.Integral | np.number | float) or value == int(value)
    if x != math.trunc(x) or not exact:
        raise OrderError(
            f"{name}={value!r} is not a whole number of shares: orders are in whole shares "
            f"(quantnb has no fractional-share setting); round it yourself, e.g. int({name}) "
            f"gives {math.trunc(x)} and round({name}) gives {round(x)}"
        )
    return x


def order_ref(value: Any) -> Any:
    """What ``cancel()`` takes: an order object (anything with ``is_done``) or an order id."""
    if isinstance(value, str):
        if not value:
            raise OrderError("cancel(''): give an order returned by buy()/sell() or its .id")
        return value
    if hasattr(value, "is_done") and hasattr(value, "id"):
        return value
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        raise OrderError(
            f"cancel({value!r}): order ids are strings (order.id, e.g. {str(value)!r}); pass the "
            "order that buy()/sell()/order() returned, or its .id"
        )
    raise OrderError(
        f"cancel({value!r}): not an order ({type(value).__name__}); pass the order that "
        "buy()/sell()/order() returned, or its .id string"
    )


def symbols(value: Any) -> tuple[str, ...]:
    """Ticker strings, upper-cased and without repeats, in order: 'AAPL' or ['AAPL', 'MSFT']."""
    if isinstance(value, str):
        value = [value]
    elif not isinstance(value, Iterable) or isinstance(value, bytes | dict):
        raise ConfigError(
            f"symbols={value!r} ({type(value).__name__}): give a ticker string such as 'AAPL' "
            "or a list of them, e.g. ['AAPL', 'MSFT']"
        )
    out: list[str] = []
    for s in value:
        if not isinstance(s, str) or not s.strip():
            raise DataError(f"symbol {s!r}: give ticker strings such as 'AAPL'")
        s = s.strip().upper()
        if s not in out:
            out.append(s)
    if not out:
        raise ConfigError("no symbols: start(['AAPL', 'MSFT'], ...)")
    return tuple(out)


def _numeric(value: Any) -> bool:
    return isinstance(value, numbers.Real | np.number | Decimal)


def _numeric_text(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        float(value)
    except ValueError:
        return False
    return True


def flag(name: str, value: Any) -> bool:
    """A True/False setting; ConfigError for anything else ('no' would be truthy)."""
    if not isinstance(value, bool | np.bool_):
        raise ConfigError(f"{name}={value!r}: use True or False")
    return bool(value)


def setting(
    name: str,
    value: Any,
    example: str,
    *,
    minimum: float = 0.0,
    above: bool = False,
    integer: bool = False,
) -> float:
    """A finite number ``>= minimum`` (``> minimum`` with ``above``); ConfigError naming an
    example otherwise (text, booleans, NaN and inf included)."""
    kind = numbers.Integral | np.integer if integer else numbers.Real | np.number
    ok = isinstance(value, kind) and not isinstance(value, bool | np.bool_)
    if ok:
        x = float(value)
        ok = math.isfinite(x) and (x > minimum if above else x >= minimum)
    if not ok:
        what = "an integer" if integer else "a number"
        bound = f"{'>' if above else '>='} {minimum:g}"
        raise ConfigError(f"{name}={value!r}: use {what} {bound}, e.g. {name}={example}")
    return int(value) if integer else float(value)
