"""Where to reach the IB gateway: an ``IBConfig`` from arguments or the environment.

Account ids are masked in every log line (``mask_account``); only the environment holds them.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from quantnb.errors import ConfigError

ENV_HOST = "QUANTNB_IB_HOST"
ENV_PORT = "QUANTNB_IB_PORT"
ENV_CLIENT_ID = "QUANTNB_IB_CLIENT_ID"
ENV_ACCOUNT = "QUANTNB_IB_ACCOUNT"

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4002  # IB Gateway, paper
DEFAULT_CLIENT_ID = 1
PAPER_PREFIXES = ("DU", "DF")  # IB paper accounts; DF for a paper advisor account


def mask_account(account: str | None) -> str:
    """``"DU1234567"`` -> ``"DU***4567"``: enough to tell accounts apart, not enough to use one."""
    if not account:
        return "<none>"
    account = str(account)
    if len(account) <= 4:
        return "***"
    head = re.match(r"[A-Za-z]{0,2}", account).group()  # type: ignore[union-attr]
    return f"{head}***{account[-4:]}"


def is_paper_account(account: str | None) -> bool:
    """True for IB paper accounts (ids starting with DU, or DF for a paper advisor)."""
    return bool(account) and str(account)[:2].upper() in PAPER_PREFIXES


def is_configured(env: Mapping[str, str] | None = None) -> bool:
    """True when the environment points at a gateway (QUANTNB_IB_HOST or QUANTNB_IB_PORT set)."""
    env = os.environ if env is None else env
    return bool(env.get(ENV_HOST) or env.get(ENV_PORT))


@dataclass(frozen=True, slots=True)
class IBConfig:
    """Connection settings; ``account`` picks one of several managed accounts (default: first)."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    client_id: int = DEFAULT_CLIENT_ID
    account: str | None = None
    timeout: float = 10.0
    readonly: bool = False

    def __post_init__(self) -> None:
        if not self.host or not isinstance(self.host, str):
            raise ConfigError(f"host={self.host!r}: give a host name or address, e.g. 127.0.0.1")
        _check_port("port", self.port)
        _check_int("client_id", self.client_id, lo=0)
        if isinstance(self.timeout, bool) or not (
            isinstance(self.timeout, int | float) and 0 < self.timeout < float("inf")
        ):
            raise ConfigError(f"timeout={self.timeout!r}: must be a positive number of seconds")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> IBConfig:
        """Read QUANTNB_IB_HOST/PORT/CLIENT_ID/ACCOUNT; unset ones keep the defaults."""
        env = os.environ if env is None else env
        kwargs: dict[str, object] = {}
        host = env.get(ENV_HOST, "").strip()
        if host:
            kwargs["host"] = host
        port = env.get(ENV_PORT, "").strip()
        if port:
            kwargs["port"] = _env_int(ENV_PORT, port, "4002 (IB Gateway paper)", lo=1, hi=65535)
        client_id = env.get(ENV_CLIENT_ID, "").strip()
        if client_id:
            kwargs["client_id"] = _env_int(
                ENV_CLIENT_ID, client_id, "1 (one id per connection to the gateway)", lo=0
            )
        account = env.get(ENV_ACCOUNT, "").strip()
        if account:
            kwargs["account"] = account
        kwargs.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**kwargs)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return (
            f"IBConfig(host={self.host!r}, port={self.port}, client_id={self.client_id}, "
            f"account={mask_account(self.account) if self.account else None!r}, "
            f"timeout={self.timeout}, readonly={self.readonly})"
        )

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def _env_int(name: str, raw: str, example: str, *, lo: int, hi: int | None = None) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer; set it to e.g. {example}") from None
    if value < lo or (hi is not None and value > hi):
        bound = f"between {lo} and {hi}" if hi is not None else f">= {lo}"
        raise ConfigError(f"{name}={raw!r} is out of range: must be {bound}")
    return value


def _check_port(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise ConfigError(
            f"{name}={value!r}: a TCP port 1-65535 (IB Gateway paper 4002, TWS paper 7497)"
        )


def _check_int(name: str, value: object, *, lo: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise ConfigError(f"{name}={value!r}: must be an integer >= {lo}")


_ACCOUNT_RE = re.compile(r"\b(D[UF]|[UFI])(\d{3,})(\d{4})\b")


def mask_accounts_in(text: str) -> str:
    """Mask every IB-style account id (DU1234567, U1234567, DF...) inside ``text``."""
    return _ACCOUNT_RE.sub(lambda m: f"{m.group(1)}***{m.group(3)}", text)


class AccountMaskFilter(logging.Filter):
    """A logging filter that masks account ids in records of loggers we do not own (the client)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is the emitter's problem; leave it alone
            return True
        masked = mask_accounts_in(message)
        if masked != message:
            record.msg, record.args = masked, ()
        return True


def install_account_mask(logger_names: tuple[str, ...]) -> None:
    """Attach one ``AccountMaskFilter`` to each named logger (idempotent)."""
    for name in logger_names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, AccountMaskFilter) for f in logger.filters):
            logger.addFilter(AccountMaskFilter())
