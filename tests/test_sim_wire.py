"""The simulator's wire codec, message layouts and history helpers: pure, no socket."""

from __future__ import annotations

import datetime
import itertools
import logging

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from quantnb.domain.model import Order, Side
from quantnb.errors import ConfigError
from quantnb.sim import history
from quantnb.sim import messages as m
from quantnb.sim.config import SimConfig
from quantnb.sim.contracts import ContractQuery, SimContract, make_universe, resolve
from quantnb.sim.market import path_slices
from quantnb.sim.records import ExecutionRecord, OrderRecord
from quantnb.sim.versions import adapt
from quantnb.sim.wire import (
    API_PREFIX,
    UNSET_DOUBLE,
    FrameReader,
    ProtocolError,
    decode_frames,
    frame,
    handshake_reply,
    negotiate,
    parse_ib_time,
    parse_version_range,
    text,
)

AAPL = SimContract("AAPL", 265598)
T0 = pd.Timestamp("2024-01-03 15:00", tz="UTC")


def _order() -> OrderRecord:
    return OrderRecord(
        1, 5, 1_000_000_007, AAPL, "BUY", 10.0, "LMT", 150.0, None, "DAY", "ref-1", "DU1234567",
        Order("ref-1", "AAPL", Side.BUY, 10),
    )  # fmt: skip


def _execution(realized: float | None = None) -> ExecutionRecord:
    return ExecutionRecord(
        "0001.0001.01.01", 1, 5, 1_000_000_007, AAPL, "BOT", 10.0, 150.25, T0, "DU1234567",
        10.0, 150.25, "ref-1", 1.5, realized,
    )  # fmt: skip


def _fields(data: bytes) -> list[str]:
    (fields,) = decode_frames(data)
    return fields


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, "1"), (False, "0"), (None, ""), (7, "7"), (100.0, "100"), (150.25, "150.25"),
        (-0.5, "-0.5"), ("AAPL", "AAPL"), (UNSET_DOUBLE, "1.7976931348623157E308"),
    ],
)  # fmt: skip
def test_field_text(value, expected):
    assert text(value) == expected


@given(
    st.lists(
        st.text(alphabet=st.characters(blacklist_characters="\0", blacklist_categories=("Cs",))),
        min_size=1,
        max_size=20,
    )
)
def test_frames_round_trip(fields):
    data = frame(fields)
    assert int.from_bytes(data[:4], "big") == len(data) - 4
    assert decode_frames(data) == [fields]


def test_reader_takes_the_api_prefix_then_frames_in_any_chunks():
    data = API_PREFIX + frame(["v157..176"]) + frame([71, 2, 1, ""]) + frame([49, 1])
    reader = FrameReader()
    got = []
    for i in range(len(data)):
        got += reader.feed(data[i : i + 1])
    assert got == [["v157..176"], ["71", "2", "1", ""], ["49", "1"]]
    reader = FrameReader()
    assert len(reader.feed(data)) == 3


def test_reader_refuses_what_is_not_the_api():
    with pytest.raises(ProtocolError):
        FrameReader().feed(b"GET / HTTP/1.1\r\n")


@pytest.mark.parametrize(
    ("versions", "expected"),
    [("v157..176", 176), ("v157..178 +PACEAPI", 176), ("v100..160", 160), ("v176", 176)],
)
def test_negotiation_claims_at_most_176(versions, expected):
    low, high, _ = parse_version_range([versions])
    assert negotiate(low, high) == expected


def test_negotiation_refuses_bad_ranges():
    with pytest.raises(ProtocolError):
        parse_version_range(["hello"])
    with pytest.raises(ProtocolError):
        negotiate(10, 20)


def test_handshake_reply_is_two_fields_without_a_message_id():
    assert _fields(handshake_reply(176, T0)) == ["176", "20240103 15:00:00 UTC"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("20240103 15:00:00 UTC", "2024-01-03 15:00"),
        ("20240103-15:00:00", "2024-01-03 15:00"),
        ("20240103 10:00:00 US/Eastern", "2024-01-03 15:00"),
        ("20240103 10:00:00 America/New_York", "2024-01-03 15:00"),
        ("20240103 15:00:00", "2024-01-03 15:00"),
        ("20240103", "2024-01-03 23:59:59"),
    ],
)
def test_ib_times(value, expected):
    assert parse_ib_time(value) == pd.Timestamp(expected, tz="UTC")


def test_bad_ib_times():
    with pytest.raises(ValueError, match="bad IB date"):
        parse_ib_time("yesterday")
    with pytest.raises(ValueError, match="time zone"):
        parse_ib_time("20240103 10:00:00 Mars/Olympus")


try:
    from ib_async.decoder import Decoder

    CLIENT = "ib_async"
except ImportError:  # the ib_insync environment
    try:
        from ib_insync.decoder import Decoder  # type: ignore[no-redef]

        CLIENT = "ib_insync"
    except ImportError:
        Decoder = CLIENT = None  # type: ignore[assignment,misc]


class _Recorder:
    """A client wrapper that only records which of its methods the decoder called."""

    defaultTimezone = datetime.UTC  # the zone ib_async's decoder converts times to

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return lambda *args, **kwargs: self.calls.append(name)


# Field counts the clients' decoders unpack at server version 176 (a wrong count drops the
# message), and the wrapper method the installed client's decoder turns each message into.
@pytest.mark.parametrize(
    ("data", "count", "msg_id", "method"),
    [
        (m.open_order(_order()), 128, "5", "openOrder"),
        (m.completed_order(_order()), 97, "101", "completedOrder"),
        (m.order_status(_order()), 12, "3", "orderStatus"),
        (m.exec_details(-1, _execution()), 31, "11", "execDetails"),
        (m.commission_report(_execution()), 8, "59", "commissionReport"),
        (m.position("DU1", AAPL, 10, 150.0), 16, "61", "position"),
        (m.portfolio("DU1", AAPL, 10, 151.0, 1510.0, 150.0, 10.0, 0.0), 20, "7", "updatePortfolio"),
        (m.contract_details(1, AAPL), 40, "10", "contractDetails"),
        (m.error(1, 200, "no such contract"), 6, "4", "error"),
        (m.tick_price(1, 4, 150.25, 100.0), 7, "1", "priceSizeTick"),
        (m.tick_size(1, 8, 1000.0), 5, "2", "tickSize"),
        (m.realtime_bar(1, 1_700_000_000, 1, 2, 0.5, 1.5, 100, 1.2, 3), 11, "50", "realtimeBar"),
        (
            m.historical_data_update(1, 3, "20240103", 1, 2, 0.5, 1.5, 1.2, 100),
            10, "90", "historicalDataUpdate",
        ),
        (m.account_value("DU1", "NetLiquidation", "1.00", "USD"), 6, "6", "updateAccountValue"),
        (
            m.account_update_multi(1, "DU1", "NetLiquidation", "1.00", "USD"),
            8, "73", "accountUpdateMulti",
        ),
        (m.account_summary(1, "DU1", "NetLiquidation", "1.00", "USD"), 7, "63", "accountSummary"),
        (m.position_multi(1, "DU1", AAPL, 1, 2), 18, "71", "positionMulti"),
        (m.managed_accounts(["DU1"]), 3, "15", "managedAccounts"),
        (m.next_valid_id(1), 3, "9", "nextValidId"),
        (m.pnl(1, 1.0, 2.0, 3.0), 5, "94", "pnl"),
    ],
)  # fmt: skip
def test_message_layouts(data, count, msg_id, method, caplog):
    fields = _fields(data)
    assert fields[0] == msg_id
    assert len(fields) == count
    if Decoder is None:
        pytest.skip("needs ib_async or ib_insync to decode")
    wrapper = _Recorder()
    with caplog.at_level(logging.ERROR, logger=CLIENT):
        Decoder(wrapper, 176).interpret(fields)
    assert wrapper.calls == [method]
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_order_messages_carry_ids_ref_and_state():
    rec = _order()
    fields = _fields(m.open_order(rec))
    assert fields[1] == "5"  # order id
    assert fields[23:26] == ["ref-1", "1", "1000000007"]  # orderRef, clientId, permId
    assert fields[16] == "150" and fields[17] == ""  # limit set, aux unset
    assert fields[86] == "Submitted"  # the order state
    done = _fields(m.completed_order(rec))
    assert done[73] == "Submitted"
    status = _fields(m.order_status(rec))
    assert status[1:6] == ["5", "Submitted", "0", "10", "0"]


def test_commission_report_marks_unset_realized_pnl():
    opening = _fields(m.commission_report(_execution()))
    assert opening[5] == "1.7976931348623157E308"
    closing = _fields(m.commission_report(_execution(realized=12.5)))
    assert closing[5] == "12.5"


def test_historical_data_message_holds_all_bars():
    bars = [("20240103", 1.0, 2.0, 0.5, 1.5, 100.0, 1.2, 3)] * 4
    fields = _fields(m.historical_data(7, "a", "b", bars))
    assert fields[:5] == ["17", "7", "a", "b", "4"]
    assert len(fields) == 5 + 8 * 4


def test_contracts_resolve_by_symbol_or_id():
    universe = make_universe(["AAPL", "MSFT"])
    q = ContractQuery.from_fields(["0", "MSFT", "STK", "", "0", "", "", "SMART", "", "USD", "", ""])
    assert resolve(universe, q) is universe["MSFT"]
    q = ContractQuery.from_fields(["265598", "", "", "", "", "", "", "", "", "", "", ""])
    assert resolve(universe, q) is universe["AAPL"]
    q = ContractQuery.from_fields(["0", "AAPL", "OPT", "", "", "", "", "", "", "", "", ""])
    assert resolve(universe, q) is None


@pytest.mark.parametrize(
    ("size", "unit", "seconds"),
    [("1 min", "intraday", 60), ("5 mins", "intraday", 300), ("1 hour", "intraday", 3600),
     ("1 day", "day", 86400), ("1 week", "week", 604800), ("1 month", "month", 2592000)],
)  # fmt: skip
def test_bar_sizes(size, unit, seconds):
    parsed = history.parse_bar_size(size)
    assert (parsed.unit, parsed.seconds) == (unit, seconds)


def test_durations_count_trading_days_and_calendar_spans():
    end = pd.Timestamp("2024-01-03 15:00", tz="UTC")
    days = np.array([19720, 19721, 19722, 19725])  # day keys, sorted
    assert history.window_start("2 D", end, days) == 19722 * 86400 * 10**9
    assert history.window_start("1800 S", end) == (end - pd.Timedelta(seconds=1800)).value
    assert history.window_start("1 W", end) == (end - pd.Timedelta(days=7)).value
    assert history.window_start("1 Y", end) == pd.Timestamp("2023-01-03 15:00", tz="UTC").value
    with pytest.raises(history.HistoryError):
        history.window_start("3 fortnights", end)


def test_aggregate_matches_pandas_resample():
    index = pd.date_range("2024-01-03 14:30", periods=60, freq="1min", tz="UTC")
    rng = np.random.default_rng(0)
    close = 100 + rng.standard_normal(60).cumsum()
    df = pd.DataFrame(
        {"open": close + 0.1, "high": close + 1, "low": close - 1, "close": close, "volume": 10.0},
        index=index,
    )
    values = df.to_numpy().T
    days = np.full(60, 19725)
    times, _, out = history.aggregate(
        index.as_unit("ns").asi8, values, days, history.parse_bar_size("15 mins")
    )
    expected = df.resample("15min").agg(
        {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}
    )
    assert list(pd.DatetimeIndex(times, tz="UTC")) == list(expected.index)
    np.testing.assert_allclose(out[:5].T, expected.to_numpy())


@given(
    st.floats(10, 500), st.floats(0, 0.05), st.floats(0, 0.05), st.floats(-0.05, 0.05),
    st.floats(0, 1e6), st.integers(1, 12),
)  # fmt: skip
def test_bar_paths_keep_the_bar(o, up, down, move, volume, n):
    o = round(o, 2)
    c = round(o * (1 + move), 2)
    h = round(max(o, c) * (1 + up), 2)
    lo = round(min(o, c) * (1 - down), 2)
    slices = path_slices(o, h, lo, c, volume, n)
    assert len(slices) == n
    assert slices[0][0] == o and slices[-1][3] == c
    assert max(s[1] for s in slices) == h and min(s[2] for s in slices) == lo
    assert sum(s[4] for s in slices) == pytest.approx(volume)
    assert all(s[2] <= min(s[0], s[3]) <= max(s[0], s[3]) <= s[1] for s in slices)
    assert all(a[3] == b[0] for a, b in itertools.pairwise(slices))


@pytest.mark.parametrize(
    "size", ["1 min", "15 mins", "1 hour", "1 day", "2 days", "1 week", "1 month"]
)
def test_one_bar_keys_and_labels_agree_with_many(size):
    bar = history.parse_bar_size(size)
    times = pd.date_range("2024-01-29 14:30", periods=40, freq="7h", tz="UTC").as_unit("ns").asi8
    days = times // (86_400 * 10**9)
    keys = history.group_keys(bar, times, days)
    assert [history.group_key(bar, int(t), int(d)) for t, d in zip(times, days)] == keys.tolist()
    for fmt in (1, 2):
        names = history.labels(times, days, bar.daily, fmt, "America/New_York")
        singles = [
            history.label(int(t), int(d), bar.daily, fmt, "America/New_York")
            for t, d in zip(times, days)
        ]
        assert singles == names


# --- older server versions ----------------------------------------------------------------------

try:
    from ibapi.decoder import Decoder as IbapiDecoder
    from ibapi.wrapper import EWrapper
except ImportError:  # ibapi is installed beside ib_async only
    IbapiDecoder = EWrapper = None  # type: ignore[assignment,misc]

VERSIONS = (157, 159, 160, 162, 163, 164, 166, 170, 175, 176)


def _at(data: bytes, version: int) -> list[str]:
    return _fields(adapt(data, version))


# Field counts by the first version they hold at; the layouts the decoders read per version.
@pytest.mark.parametrize(
    ("data", "counts", "method"),
    [
        (m.open_order(_order()), {157: 120, 159: 121, 160: 122, 162: 123, 170: 128}, "openOrder"),
        (m.completed_order(_order()), {157: 92, 170: 97}, "completedOrder"),
        (m.contract_details(1, AAPL), {157: 39, 163: 40, 164: 40}, "contractDetails"),
        (m.error(1, 200, "no such contract"), {157: 5, 166: 6}, "error"),
        (m.symbol_samples(1, [AAPL, AAPL]), {157: 15, 176: 19}, "symbolSamples"),
        (m.exec_details(-1, _execution()), {157: 31}, "execDetails"),
        (m.order_status(_order()), {157: 12}, "orderStatus"),
        (m.tick_price(1, 4, 150.25, 100.0), {157: 7}, "priceSizeTick"),
        (m.historical_data(1, "a", "b", [("20240103", 1, 2, 0.5, 1.5, 9, 1.2, 3)]), {157: 13},
         "historicalData"),
    ],
)  # fmt: skip
@pytest.mark.parametrize("version", VERSIONS)
def test_older_layouts(data, counts, method, version, caplog):
    fields = _at(data, version)
    expected = counts[max(v for v in counts if v <= version)]
    assert len(fields) == expected
    if Decoder is None:
        pytest.skip("needs ib_async or ib_insync to decode")
    wrapper = _Recorder()
    with caplog.at_level(logging.ERROR, logger=CLIENT):
        Decoder(wrapper, version).interpret(fields)
    assert wrapper.calls[:1] == [method]
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


@pytest.mark.parametrize(
    ("data", "method"),
    [
        (m.open_order(_order()), "openOrder"),
        (m.completed_order(_order()), "completedOrder"),
        (m.order_status(_order()), "orderStatus"),
        (m.exec_details(-1, _execution()), "execDetails"),
        (m.commission_report(_execution()), "commissionReport"),
        (m.position("DU1", AAPL, 10, 150.0), "position"),
        (m.portfolio("DU1", AAPL, 10, 151.0, 1510.0, 150.0, 10.0, 0.0), "updatePortfolio"),
        (m.contract_details(1, AAPL), "contractDetails"),
        (m.error(1, 200, "no such contract"), "error"),
        (m.tick_price(1, 4, 150.25, 100.5), "priceSizeTick"),
        (m.tick_size(1, 8, 1000.5), "tickSize"),
        (m.realtime_bar(1, 1_700_000_000, 1, 2, 0.5, 1.5, 100.5, 1.2, 3), "realtimeBar"),
        (m.historical_data_update(1, 3, "20240103", 1, 2, 0.5, 1.5, 1.2, 100.5),
         "historicalDataUpdate"),
        (m.account_value("DU1", "NetLiquidation", "1.00", "USD"), "updateAccountValue"),
        (m.account_update_multi(1, "DU1", "NetLiquidation", "1.00", "USD"), "accountUpdateMulti"),
        (m.account_summary(1, "DU1", "NetLiquidation", "1.00", "USD"), "accountSummary"),
        (m.position_multi(1, "DU1", AAPL, 1, 2), "positionMulti"),
        (m.managed_accounts(["DU1"]), "managedAccounts"),
        (m.next_valid_id(1), "nextValidId"),
        (m.pnl(1, 1.0, 2.0, 3.0), "pnl"),
        (m.pnl_single(1, 10.5, 1.0, 2.0, 3.0, 4.0), "pnlSingle"),
        (m.symbol_samples(1, [AAPL]), "symbolSamples"),
    ],
)  # fmt: skip
def test_every_message_decodes_at_157(data, method, caplog):
    if Decoder is None:
        pytest.skip("needs ib_async or ib_insync to decode")
    wrapper = _Recorder()
    with caplog.at_level(logging.ERROR, logger=CLIENT):
        Decoder(wrapper, 157).interpret(_at(data, 157))
    assert wrapper.calls == [method]
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_newest_layout_is_left_alone():
    data = m.error(1, 200, "no such contract")
    assert adapt(data, 176) is data
    ticks = m.tick_price(1, 4, 150.25, 100.5)
    assert adapt(ticks, 163) == ticks


def test_sizes_are_whole_before_163():
    assert _at(m.tick_price(1, 4, 150.25, 100.5), 157)[5] == "100"
    assert _at(m.tick_size(1, 8, 1234.7), 157)[4] == "1235"
    assert _at(m.tick_size(1, 8, 1234.7), 163)[4] == "1234.7"
    bars = [("20240103", 1.0, 2.0, 0.5, 1.5, 100.6, 1.25, 3)] * 2
    fields = _at(m.historical_data(7, "a", "b", bars), 157)
    assert fields[10] == fields[18] == "101" and fields[11] == "1.25"
    assert _at(m.realtime_bar(1, 1_700_000_000, 1, 2, 0.5, 1.5, 99.5, 1.2, 3), 157)[8] == "100"


def test_contract_details_before_164_carry_a_version_and_md_size_multiplier():
    new = _fields(m.contract_details(1, AAPL))
    old = _at(m.contract_details(1, AAPL), 157)
    assert old[:3] == ["10", "8", "1"]
    assert old[14] == "0.01" and old[15] == "1"  # minTick, mdSizeMultiplier
    assert old[16:] == new[14:-3]


if EWrapper is not None:

    class _IbapiRecorder(EWrapper):
        """An ibapi wrapper recording each callback with its arguments."""

        def __init__(self) -> None:
            super().__init__()
            self.calls: list[tuple[str, tuple]] = []

        def __getattribute__(self, name: str):
            if not name.startswith("_") and name in _EWRAPPER_METHODS:
                calls = object.__getattribute__(self, "calls")
                return lambda *args: calls.append((name, args))
            return object.__getattribute__(self, name)

    _EWRAPPER_METHODS = {n for n in dir(EWrapper) if not n.startswith("_") and n != "logAnswer"}


def _ibapi_decode(data: bytes, version: int = 157) -> list[tuple[str, tuple]]:
    """The callbacks ibapi 9.81's decoder makes of one frame; every field must be read."""
    if IbapiDecoder is None:
        pytest.skip("needs ibapi")
    fields = tuple(f.encode() for f in _at(data, version))
    wrapper = _IbapiRecorder()
    decoder = IbapiDecoder(wrapper, version)
    info = decoder.msgId2handleInfo[int(fields[0])]
    if info.processMeth is not None:
        rest = iter(fields)
        info.processMeth(decoder, rest)
        assert list(rest) == [], "fields left unread"
    else:
        decoder.interpret(fields)
    return wrapper.calls


@pytest.mark.parametrize(
    ("data", "methods"),
    [
        (m.open_order(_order()), ["openOrder"]),
        (m.completed_order(_order()), ["completedOrder"]),
        (m.order_status(_order()), ["orderStatus"]),
        (m.exec_details(-1, _execution()), ["execDetails"]),
        (m.commission_report(_execution()), ["commissionReport"]),
        (m.position("DU1", AAPL, 10, 150.0), ["position"]),
        (m.portfolio("DU1", AAPL, 10, 151.0, 1510.0, 150.0, 10.0, 0.0), ["updatePortfolio"]),
        (m.contract_details(1, AAPL), ["contractDetails"]),
        (m.error(1, 200, "no such contract"), ["error"]),
        (m.tick_price(1, 4, 150.25, 100.5), ["tickPrice", "tickSize"]),
        (m.tick_size(1, 8, 1000.5), ["tickSize"]),
        (m.realtime_bar(1, 1_700_000_000, 1, 2, 0.5, 1.5, 100.5, 1.2, 3), ["realtimeBar"]),
        (m.historical_data_update(1, 3, "20240103", 1, 2, 0.5, 1.5, 1.2, 100.5),
         ["historicalDataUpdate"]),
        (m.historical_data(1, "a", "b", [("20240103", 1, 2, 0.5, 1.5, 9.5, 1.2, 3)]),
         ["historicalData", "historicalDataEnd"]),
        (m.account_value("DU1", "NetLiquidation", "1.00", "USD"), ["updateAccountValue"]),
        (m.account_update_multi(1, "DU1", "NetLiquidation", "1.00", "USD"),
         ["accountUpdateMulti"]),
        (m.account_summary(1, "DU1", "NetLiquidation", "1.00", "USD"), ["accountSummary"]),
        (m.position_multi(1, "DU1", AAPL, 1, 2), ["positionMulti"]),
        (m.managed_accounts(["DU1"]), ["managedAccounts"]),
        (m.next_valid_id(1), ["nextValidId"]),
        (m.current_time(1_700_000_000), ["currentTime"]),
        (m.pnl(1, 1.0, 2.0, 3.0), ["pnl"]),
        (m.pnl_single(1, 10.5, 1.0, 2.0, 3.0, 4.0), ["pnlSingle"]),
        (m.symbol_samples(1, [AAPL]), ["symbolSamples"]),
        (m.market_data_type(1, 3), ["marketDataType"]),
        (m.head_timestamp(1, "20240101-00:00:00"), ["headTimestamp"]),
        (m.account_time("10:00"), ["updateAccountTime"]),
        (m.contract_details_end(1), ["contractDetailsEnd"]),
        (m.exec_details_end(1), ["execDetailsEnd"]),
        (m.open_order_end(), ["openOrderEnd"]),
        (m.completed_orders_end(), ["completedOrdersEnd"]),
        (m.tick_snapshot_end(1), ["tickSnapshotEnd"]),
        (m.position_end(), ["positionEnd"]),
        (m.account_download_end("DU1"), ["accountDownloadEnd"]),
        (m.account_summary_end(1), ["accountSummaryEnd"]),
        (m.account_update_multi_end(1), ["accountUpdateMultiEnd"]),
        (m.position_multi_end(1), ["positionMultiEnd"]),
    ],
)  # fmt: skip
def test_ibapi_decodes_every_message_at_157(data, methods):
    assert [name for name, _ in _ibapi_decode(data)] == methods


def test_ibapi_reads_the_values_at_157():
    ((_, (order_id, contract, order, state)),) = _ibapi_decode(m.open_order(_order()))
    assert (order_id, contract.conId, order.orderRef, order.permId) == (
        5,
        265598,
        "ref-1",
        1000000007,
    )
    assert (order.totalQuantity, order.lmtPrice, state.status) == (10, 150, "Submitted")
    ((_, (req_id, details)),) = _ibapi_decode(m.contract_details(3, AAPL))
    assert (req_id, details.contract.conId, details.minTick) == (3, 265598, 0.01)
    assert details.stockType == "COMMON" and details.marketRuleIds == "26"
    ((_, (req_id, code, text)),) = _ibapi_decode(m.error(4, 200, "no such contract"))
    assert (req_id, code, text) == (4, 200, "no such contract")
    ((_, (req_id, contract, execution)),) = _ibapi_decode(m.exec_details(-1, _execution()))
    assert (execution.execId, execution.shares, execution.price) == ("0001.0001.01.01", 10, 150.25)


@pytest.mark.parametrize("timeout", [0, -1.0, float("inf"), float("nan"), "10"])
def test_handshake_timeout_must_be_a_positive_number(timeout):
    with pytest.raises(ConfigError, match="handshake_timeout"):
        SimConfig(handshake_timeout=timeout)
    assert SimConfig().handshake_timeout == 10.0
