"""Messages for clients that negotiated an older server version than the encoders' 176.

The encoders in ``messages`` write the newest layout only; ``adapt`` rewrites one frame to what
a client at an older version reads: it drops (or adds) exactly the fields that the clients'
decoders read only from (or up to) a given version. The session calls it only for older clients,
so ticks to current clients cost nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from quantnb.sim.wire import SERVER_VERSION, frame, split_fields

MIN_VERSION = 157  # the oldest version the layouts below are checked for (ibapi 9.81's maximum)

# server versions at which a field appeared (the clients' ``server_versions``)
_DURATION = 159
_POST_TO_ATS = 160
_AUTO_CANCEL_PARENT = 162
_FRACTIONAL_SIZE = 163
_SIZE_RULES = 164
_ADVANCED_REJECT = 166
_MIN_TRADE_QTY = 170
_BOND_ISSUER_ID = 176

Adapter = Callable[[list[str], int], list[str]]


def adapt(data: bytes, version: int) -> bytes:
    """One frame of the newest layout (``data``) as a client at ``version`` reads it."""
    if version >= SERVER_VERSION:
        return data
    end = data.find(b"\0", 4)
    adapter = _ADAPTERS.get(data[4:end])
    if adapter is None:
        return data
    return frame(adapter(split_fields(data[4:]), version))


def _whole(text: str) -> str:
    """A size as a whole number: clients before 163 read sizes as integers."""
    if text and ("." in text or "e" in text.lower()):
        return str(round(float(text)))
    return text


def _sizes_at(*positions: int) -> Adapter:
    def adapter(f: list[str], version: int) -> list[str]:
        if version < _FRACTIONAL_SIZE:
            for i in positions:
                f[i] = _whole(f[i])
        return f

    return adapter


def _error(f: list[str], version: int) -> list[str]:
    # 4, 2, reqId, code, message[, advancedOrderRejectJson ≥166]
    return f if version >= _ADVANCED_REJECT else f[:5]


def _contract_details(f: list[str], version: int) -> list[str]:
    # before 164: a message version after the id, mdSizeMultiplier after minTick, and of the
    # size rules only suggestedSizeIncrement (at exactly 163)
    if version >= _SIZE_RULES:
        return f
    tail = f[-1:] if version == _FRACTIONAL_SIZE else []
    return [f[0], "8", *f[1:14], "1", *f[14:-3], *tail]


def _open_order(f: list[str], version: int) -> list[str]:
    # the last 8 fields: duration, postToAts, autoCancelParent, then 5 from 170
    head, (duration, post_to_ats, auto_cancel, *min_trade) = f[:-8], f[-8:]
    if version >= _DURATION:
        head.append(duration)
    if version >= _POST_TO_ATS:
        head.append(post_to_ats)
    if version >= _AUTO_CANCEL_PARENT:
        head.append(auto_cancel)
    if version >= _MIN_TRADE_QTY:
        head += min_trade
    return head


def _completed_order(f: list[str], version: int) -> list[str]:
    # minTradeQty .. midOffsetAtHalf close the message from 170
    return f if version >= _MIN_TRADE_QTY else f[:-5]


def _symbol_samples(f: list[str], version: int) -> list[str]:
    # per contract: conId, symbol, secType, primaryExchange, currency, n, n derivative types,
    # then description and issuerId from 176
    if version >= _BOND_ISSUER_ID:
        return f
    out, i = f[:3], 3
    for _ in range(int(f[2])):
        n = int(f[i + 5])
        out += f[i : i + 6 + n]
        i += 8 + n
    return out


def _historical_data(f: list[str], version: int) -> list[str]:
    # 17, reqId, start, end, n, then (date, o, h, l, c, volume, wap, count) per bar
    if version < _FRACTIONAL_SIZE:
        for i in range(10, len(f), 8):
            f[i] = _whole(f[i])
    return f


_ADAPTERS: dict[bytes, Adapter] = {
    b"1": _sizes_at(5),  # tickPrice's size
    b"2": _sizes_at(4),  # tickSize
    b"4": _error,
    b"5": _open_order,
    b"10": _contract_details,
    b"17": _historical_data,
    b"50": _sizes_at(8),  # realtimeBar's volume
    b"79": _symbol_samples,
    b"90": _sizes_at(9),  # historicalDataUpdate's volume
    b"95": _sizes_at(2),  # pnlSingle's position
    b"101": _completed_order,
}
