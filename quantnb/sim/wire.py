"""The TWS API wire codec: length-prefixed frames of NUL-terminated text fields. Pure, no I/O.

Also the handshake (``API\\0`` + version range → server version + connection time) and the date
formats the protocol uses.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable, Sequence

import pandas as pd

API_PREFIX = b"API\0"
SERVER_VERSION = 176
MIN_CLIENT_VERSION = 100
UNSET_DOUBLE = 1.7976931348623157e308
MAX_FRAME = 16 * 1024 * 1024

_LEN = struct.Struct(">I")
_VERSION_RE = re.compile(r"^v(\d+)(?:\.\.(\d+))?(?:\s+(.*))?$")


class ProtocolError(ValueError):
    """A peer sent bytes that are not the TWS API protocol."""


Field = str | int | float | bool | None


def text(value: Field) -> str:
    """One field as protocol text: bools ``1``/``0``, ``None`` empty, integral floats as ints."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if value == UNSET_DOUBLE:
        return "1.7976931348623157E308"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def frame(fields: Iterable[Field]) -> bytes:
    """Encode fields as one length-prefixed frame."""
    body = ("\0".join(map(text, fields)) + "\0").encode()
    return _LEN.pack(len(body)) + body


def split_fields(body: bytes) -> list[str]:
    """The fields of one frame body (without its length prefix)."""
    parts = body.decode(errors="backslashreplace").split("\0")
    if parts and parts[-1] == "":
        parts.pop()
    return parts


def decode_frames(data: bytes) -> list[list[str]]:
    """Every complete frame in ``data`` as field lists (for tests and tools)."""
    reader = FrameReader(expect_prefix=False)
    return reader.feed(data)


class FrameReader:
    """Incremental frame decoder; with ``expect_prefix`` it first consumes the ``API\\0`` bytes."""

    __slots__ = ("_buf", "_pos", "expect_prefix")

    def __init__(self, expect_prefix: bool = True) -> None:
        self._buf = bytearray()
        self._pos = 0
        self.expect_prefix = expect_prefix

    def feed(self, data: bytes) -> list[list[str]]:
        """Add received bytes; return the frames now complete, in order."""
        buf = self._buf
        buf += data
        out: list[list[str]] = []
        if self.expect_prefix:
            if len(buf) < len(API_PREFIX):
                return out
            if bytes(buf[: len(API_PREFIX)]) != API_PREFIX:
                raise ProtocolError(f"expected the API prefix, got {bytes(buf[:4])!r}")
            self._pos = len(API_PREFIX)
            self.expect_prefix = False
        pos = self._pos
        end = len(buf)
        while end - pos >= 4:
            (size,) = _LEN.unpack_from(buf, pos)
            if size > MAX_FRAME:
                raise ProtocolError(f"frame of {size} bytes is too large")
            if end - pos - 4 < size:
                break
            out.append(split_fields(bytes(buf[pos + 4 : pos + 4 + size])))
            pos += 4 + size
        # drop consumed bytes now and then, not per frame, to stay linear
        if pos == end:
            buf.clear()
            pos = 0
        elif pos > 65536:
            del buf[:pos]
            pos = 0
        self._pos = pos
        return out


def parse_version_range(fields: Sequence[str]) -> tuple[int, int, str]:
    """``["v157..176 +PACEAPI"]`` → ``(157, 176, "+PACEAPI")``."""
    if len(fields) != 1:
        raise ProtocolError(f"handshake frame must hold one field, got {list(fields)!r}")
    match = _VERSION_RE.match(fields[0].strip())
    if not match:
        raise ProtocolError(f"bad handshake version range {fields[0]!r}")
    low = int(match.group(1))
    high = int(match.group(2) or low)
    return low, high, match.group(3) or ""


def negotiate(client_min: int, client_max: int) -> int:
    """The server version to claim: the client's maximum, capped at ours (the session refuses
    one below ``versions.MIN_VERSION``)."""
    version = min(client_max, SERVER_VERSION)
    if version < max(client_min, MIN_CLIENT_VERSION):
        raise ProtocolError(f"client versions {client_min}..{client_max} are not supported")
    return version


def handshake_reply(version: int, now: pd.Timestamp) -> bytes:
    """The server's answer to the version range: exactly two fields and no message id."""
    return frame([version, utc_text(now)])


# --- date formats -------------------------------------------------------------------------------


def utc_text(t: pd.Timestamp) -> str:
    """``yyyymmdd hh:mm:ss UTC``: the date-time form both clients read with its zone."""
    return t.tz_convert("UTC").strftime("%Y%m%d %H:%M:%S UTC")


_END_RE = re.compile(r"^(\d{8})(?:[ -]+(\d{1,2}:\d{2}:\d{2}))?(?:\s+(\S+))?$")


def parse_ib_time(value: str, default_tz: str = "UTC") -> pd.Timestamp:
    """Parse ``yyyymmdd hh:mm:ss [tz]``, ``yyyymmdd-hh:mm:ss`` (UTC) or ``yyyymmdd`` to UTC.

    A time without a zone is read in ``default_tz`` (TWS reads it in its own zone); the dash form
    is UTC, as IB documents.
    """
    value = value.strip()
    match = _END_RE.match(value)
    if not match:
        raise ValueError(f"bad IB date/time {value!r}; use 'yyyymmdd hh:mm:ss UTC'")
    day, clock, zone = match.groups()
    if "-" in value[8:9] and not zone:
        zone = "UTC"
    stamp = pd.Timestamp(f"{day[:4]}-{day[4:6]}-{day[6:]} {clock or '00:00:00'}")
    if clock is None and zone is None:
        # a bare date means the end of that day
        stamp += pd.Timedelta(hours=23, minutes=59, seconds=59)
    try:
        stamp = stamp.tz_localize(zone or default_tz)
    except Exception as exc:
        raise ValueError(f"unknown time zone {zone!r} in {value!r}") from exc
    return stamp.tz_convert("UTC")
