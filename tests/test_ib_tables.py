"""The pure pieces of quantnb.ib: translation tables, configuration, account masking, loop thread.

No socket and no IB client library needed.
"""

from __future__ import annotations

import asyncio
import logging
import threading

import pytest

from quantnb.domain.model import OrderStatus, OrderType, Side, TimeInForce
from quantnb.errors import ConfigError, GatewayError
from quantnb.ib import tables
from quantnb.ib.config import (
    AccountMaskFilter,
    IBConfig,
    is_configured,
    mask_account,
    mask_accounts_in,
)
from quantnb.ib.loop import LoopThread
from quantnb.ib.tables import ErrorKind, classify_error, to_order_status


# ---- error codes -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (2104, ErrorKind.INFO),
        (2106, ErrorKind.INFO),
        (2158, ErrorKind.INFO),
        (2199, ErrorKind.INFO),
        (399, ErrorKind.WARNING),
        (201, ErrorKind.ORDER_REJECTED),
        (103, ErrorKind.ORDER_REJECTED),
        (10147, ErrorKind.ORDER_REQUEST_REFUSED),
        (104, ErrorKind.ORDER_REQUEST_REFUSED),
        (10149, ErrorKind.ORDER_REJECTED),
        (202, ErrorKind.ORDER_CANCELLED),
        (1100, ErrorKind.CONNECTIVITY),
        (1101, ErrorKind.CONNECTIVITY),
        (326, ErrorKind.CONNECTIVITY),
        (502, ErrorKind.CONNECTIVITY),
        (354, ErrorKind.MARKET_DATA),
        (10167, ErrorKind.MARKET_DATA),
        (101, ErrorKind.MARKET_DATA),
        (162, ErrorKind.PACING),
        (366, ErrorKind.PACING),
        (200, ErrorKind.CONTRACT),
        (12345, ErrorKind.ERROR),
    ],
)
def test_classify_error(code: int, kind: ErrorKind) -> None:
    assert classify_error(code) is kind


def test_code_sets_hold_what_they_say() -> None:
    assert {2104, 2106, 2107, 2108, 2158, 2119, 2100} <= tables.INFO_CODES
    assert {201, 103, 110, 135, 161, 10149} <= tables.ORDER_REJECTION_CODES
    assert {104, 105, 10147, 10148} == tables.ORDER_REQUEST_REFUSED_CODES
    assert {202} == tables.ORDER_CANCEL_CODES
    # a confirmed cancel or a refused cancel/modify is not a rejection of the order
    assert not (tables.ORDER_CANCEL_CODES | tables.ORDER_REQUEST_REFUSED_CODES) & (
        tables.ORDER_REJECTION_CODES
    )
    assert {1100, 1101, 1102, 502, 504, 326, 1300} <= tables.CONNECTIVITY_CODES
    assert {354, 10167, 10168, 101} <= tables.MARKET_DATA_CODES
    assert {162, 366} <= tables.PACING_CODES


# ---- order status -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("ib", "filled", "remaining", "ours"),
    [
        ("PendingSubmit", 0, 10, OrderStatus.PENDING),
        ("ApiPending", 0, 10, OrderStatus.PENDING),
        ("PreSubmitted", 0, 10, OrderStatus.SUBMITTED),
        ("Submitted", 0, 10, OrderStatus.SUBMITTED),
        ("Submitted", 4, 6, OrderStatus.PARTIALLY_FILLED),
        ("PendingCancel", 0, 10, OrderStatus.SUBMITTED),
        ("Filled", 10, 0, OrderStatus.FILLED),
        ("Cancelled", 0, 10, OrderStatus.CANCELLED),
        ("Cancelled", 4, 6, OrderStatus.CANCELLED),
        ("ApiCancelled", 0, 10, OrderStatus.CANCELLED),
        ("Inactive", 0, 10, OrderStatus.REJECTED),
    ],
)
def test_order_status(ib: str, filled: float, remaining: float, ours: OrderStatus) -> None:
    assert to_order_status(ib, filled, remaining) is ours


def test_unknown_order_status_names_it() -> None:
    with pytest.raises(GatewayError, match="'Bogus'"):
        to_order_status("Bogus", 0, 1)


# ---- order fields --------------------------------------------------------------------------------
def test_order_types_map_one_to_one() -> None:
    names = [tables.to_ib_order_type(kind) for kind in OrderType]
    assert len(set(names)) == len(list(OrderType))
    assert tables.to_ib_order_type(OrderType.STOP_LIMIT) == "STP LMT"


def test_tif_and_sides() -> None:
    assert tables.to_ib_tif(TimeInForce.GTC) == "GTC"
    assert tables.to_ib_tif("DAY") == "DAY"
    assert tables.to_ib_action(Side.SELL) == "SELL"
    assert tables.from_ib_side("BOT") is Side.BUY
    assert tables.from_ib_side("SLD") is Side.SELL
    with pytest.raises(ConfigError, match="'HOLD'"):
        tables.to_ib_action("HOLD")


# ---- config --------------------------------------------------------------------------------------
def test_from_env_reads_every_variable() -> None:
    env = {
        "QUANTNB_IB_HOST": "gw.local",
        "QUANTNB_IB_PORT": "4002",
        "QUANTNB_IB_CLIENT_ID": "7",
        "QUANTNB_IB_ACCOUNT": "DU1234567",
    }
    cfg = IBConfig.from_env(env)
    assert (cfg.host, cfg.port, cfg.client_id, cfg.account) == ("gw.local", 4002, 7, "DU1234567")
    assert "DU1234567" not in repr(cfg) and "DU***4567" in repr(cfg)


def test_from_env_defaults_and_overrides() -> None:
    cfg = IBConfig.from_env({}, client_id=3)
    assert (cfg.host, cfg.port, cfg.client_id, cfg.account) == ("127.0.0.1", 4002, 3, None)


@pytest.mark.parametrize(
    ("name", "value"),
    [("QUANTNB_IB_PORT", "abc"), ("QUANTNB_IB_PORT", "70000"), ("QUANTNB_IB_CLIENT_ID", "-1")],
)
def test_bad_env_names_variable_and_value(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as info:
        IBConfig.from_env({name: value})
    assert name in str(info.value) and repr(value) in str(info.value)


def test_is_configured() -> None:
    assert not is_configured({})
    assert is_configured({"QUANTNB_IB_PORT": "4002"})
    assert is_configured({"QUANTNB_IB_HOST": "x"})
    assert not is_configured({"QUANTNB_IB_CLIENT_ID": "1"})


def test_mask_account() -> None:
    assert mask_account("DU1234567") == "DU***4567"
    assert mask_account("U7654321") == "U***4321"
    assert mask_account("") == "<none>"
    assert mask_account("123") == "***"
    text = mask_accounts_in("Position(account='DU1234567', conId=265598, pos=10), U9876543")
    assert "DU1234567" not in text and "DU***4567" in text and "U***6543" in text
    assert "265598" in text


def test_account_mask_filter_rewrites_records() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "acct %s", ("DU1234567",), None)
    assert AccountMaskFilter().filter(record)
    assert record.getMessage() == "acct DU***4567"


# ---- loop thread -------------------------------------------------------------------------------
def test_loop_thread_runs_submits_and_stops() -> None:
    lt = LoopThread().start()
    try:
        assert lt.run(_thread_name()) == lt.name
        assert lt.submit(_add(2, 3)).result(5) == 5
        seen = threading.Event()
        lt.loop.call_soon_threadsafe(seen.set)
        assert seen.wait(5)
        assert not lt.in_loop()
        assert lt.run(_in_loop(lt))
    finally:
        lt.stop()
    assert not lt.is_running()


def test_blocking_run_on_the_loop_thread_is_refused() -> None:
    with LoopThread() as lt:

        async def nested() -> None:
            lt.run(asyncio.sleep(0))

        with pytest.raises(ConfigError, match="deadlock"):
            lt.run(nested())


def test_run_timeout() -> None:
    with LoopThread() as lt, pytest.raises(TimeoutError):
        lt.run(asyncio.sleep(10), timeout=0.05)


async def _thread_name() -> str:
    return threading.current_thread().name


async def _add(a: int, b: int) -> int:
    return a + b


async def _in_loop(lt: LoopThread) -> bool:
    return lt.in_loop()


def test_a_new_ib_order_is_a_blank_client_order_with_its_own_lists():
    from quantnb.ib.client import IBOrder, new_ib_order

    first, second = new_ib_order(), new_ib_order()
    assert type(first) is IBOrder and vars(first) == vars(IBOrder())  # the client's == is `is`
    first.algoParams.append("x")
    first.orderMiscOptions.append("y")
    assert second.algoParams == [] and second.orderMiscOptions == []
    assert vars(new_ib_order()) == vars(IBOrder())
    assert first.softDollarTier is not second.softDollarTier
