"""The head of a placeOrder message, read into an ``OrderRequest``: what the simulator acts on.

Field positions follow the clients' ``placeOrder`` encoders (ib_async, ib_insync, ibapi) from
server version 157 on; a few optional blocks (combo legs, delta-neutral, scale, hedge, algo
parameters) move the fields after them, so the reader walks the message with a cursor.
"""

from __future__ import annotations

from dataclasses import dataclass

from quantnb.sim.contracts import SimContract

_UNSET = 1e300


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """The head of a placeOrder message: everything the simulator acts on."""

    order_id: int
    contract: SimContract
    action: str
    qty: float
    order_type: str
    lmt_price: float | None
    aux_price: float | None
    tif: str
    order_ref: str = ""
    oca_group: str = ""
    parent_id: int = 0
    trailing_percent: float | None = None
    outside_rth: bool = False
    transmit: bool = True
    what_if: bool = False
    good_till: str = ""  # goodTillDate, as sent
    oca_type: int = 0
    all_or_none: bool = False
    algo: str = ""  # algoStrategy
    algo_params: tuple[tuple[str, str], ...] = ()


def number(text: str) -> float | None:
    """A price field: empty, "None" and IB's unset double read as None."""
    if text in ("", "None"):
        return None
    value = float(text)
    return None if value >= _UNSET else value


def _flag(text: str) -> bool:
    return text not in ("", "0", "False", "false")


class _Cursor:
    def __init__(self, fields: list[str], at: int) -> None:
        self.fields, self.at = fields, at

    def take(self, n: int = 1) -> list[str]:
        out = self.fields[self.at : self.at + n]
        self.at += n
        return out + [""] * (n - len(out))

    def one(self) -> str:
        return self.take()[0]


@dataclass(slots=True)
class _Tail:
    trailing_percent: float | None = None
    what_if: bool = False
    good_till: str = ""
    oca_type: int = 0
    all_or_none: bool = False
    algo: str = ""
    algo_params: tuple[tuple[str, str], ...] = ()


def _tail(f: list[str], sec_type: str, version: int) -> _Tail:
    """The fields after ``hidden`` the simulator acts on (goodTillDate, ocaType, allOrNone,
    trailingPercent, the algo and the whatIf flag), found by walking the blocks there."""
    out = _Tail()
    c = _Cursor(f, 35)
    if sec_type == "BAG":
        c.take(8 * int(c.one() or 0))  # combo legs
        c.take(int(c.one() or 0))  # order combo leg prices
        c.take(2 * int(c.one() or 0))  # smart combo routing params
    block = c.take(7)  # sharesAllocation, discretionaryAmt, goodAfterTime, goodTillDate, fa*
    out.good_till = block[3]
    if version < 177:
        c.take(1)  # faProfile
    block = c.take(22)  # modelCode .. volatilityType
    out.oca_type = int(float(block[4] or 0))
    out.all_or_none = _flag(block[7])
    if c.one():  # deltaNeutralOrderType
        c.take(9)  # its aux price and eight delta-neutral fields
    else:
        c.take(1)
    c.take(3)  # continuousUpdate, referencePriceType, trailStopPrice
    out.trailing_percent = number(c.one())
    c.take(2)  # scaleInitLevelSize, scaleSubsLevelSize
    increment = number(c.one()) or 0.0
    if increment > 0:
        c.take(7)
    c.take(3)  # scaleTable, activeStartTime, activeStopTime
    if c.one():  # hedgeType
        c.take(1)
    c.take(4)  # optOutSmartRouting, clearingAccount, clearingIntent, notHeld
    if _flag(c.one()):  # delta-neutral contract
        c.take(3)
    out.algo = c.one()
    if out.algo:
        pairs = c.take(2 * int(c.one() or 0))
        out.algo_params = tuple(zip(pairs[::2], pairs[1::2], strict=True))
    c.take(1)  # algoId
    out.what_if = _flag(c.one())
    return out


def read_place_order(f: list[str], contract: SimContract, version: int) -> OrderRequest:
    """The request in placeOrder fields ``f`` (message id first) for a resolved contract."""
    tail = _tail(f, f[4].upper(), version)
    return OrderRequest(
        order_id=int(f[1]),
        contract=contract,
        action=f[16].upper(),
        qty=float(f[17] or 0),
        order_type=f[18].upper(),
        lmt_price=number(f[19]),
        aux_price=number(f[20]),
        tif=(f[21] or "DAY").upper(),
        oca_group=f[22],
        order_ref=f[26],
        transmit=_flag(f[27]),
        parent_id=int(f[28] or 0),
        outside_rth=_flag(f[33]),
        trailing_percent=tail.trailing_percent,
        what_if=tail.what_if,
        good_till=tail.good_till,
        oca_type=tail.oca_type,
        all_or_none=tail.all_or_none,
        algo=tail.algo,
        algo_params=tail.algo_params,
    )
