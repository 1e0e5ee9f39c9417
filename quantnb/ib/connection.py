"""One connection to an IB gateway: connect, supervise, reconnect with backoff, route errors.

The client object lives on the ``LoopThread``; listeners are called there. After every
(re)connect the ``on_connected`` callbacks run in priority order (the broker's reconcile first),
and only then does the connection report itself connected.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from quantnb.errors import GatewayError, NotConnectedError
from quantnb.ib.account_guard import (
    AccountRefusal,
    check_account_kind,
    check_account_was,
    check_reconnect,
)
from quantnb.ib.client import CLIENT_NAME, IB
from quantnb.ib.config import IBConfig, install_account_mask, is_paper_account, mask_account
from quantnb.ib.contracts import ContractCache
from quantnb.ib.loop import LoopThread
from quantnb.ib.market_data import MarketDataMode
from quantnb.ib.tables import ErrorKind, classify_error

log = logging.getLogger(__name__)

install_account_mask(tuple(f"{CLIENT_NAME}.{n}" for n in ("client", "wrapper", "ib", "Decoder")))

OnConnected = Callable[[bool], Awaitable[Any]]
OnDisconnected = Callable[[], Any]


@dataclass(frozen=True, slots=True)
class ErrorEvent:
    """An error or notice from the gateway, classified."""

    req_id: int
    code: int
    kind: ErrorKind
    message: str
    symbol: str = ""  # the request's contract, when the client knows it

    def __str__(self) -> str:
        return f"IB {self.kind} {self.code} (request {self.req_id}): {self.message}"


OnError = Callable[[ErrorEvent], Any]

_LOG_LEVEL = {
    ErrorKind.INFO: logging.DEBUG,
    ErrorKind.WARNING: logging.INFO,
    ErrorKind.ORDER_CANCELLED: logging.INFO,
    ErrorKind.ORDER_REJECTED: logging.WARNING,
    ErrorKind.ORDER_REQUEST_REFUSED: logging.WARNING,
    ErrorKind.MARKET_DATA: logging.WARNING,
    ErrorKind.PACING: logging.WARNING,
    ErrorKind.CONTRACT: logging.WARNING,
    ErrorKind.CONNECTIVITY: logging.WARNING,
    ErrorKind.ACCOUNT: logging.ERROR,
    ErrorKind.ERROR: logging.ERROR,
}


@dataclass(slots=True)
class _Listener:
    priority: int
    on_connected: OnConnected | None
    on_disconnected: OnDisconnected | None
    on_error: OnError | None


class IBConnection:
    """Owns the IB client object and keeps it connected until ``disconnect()``."""

    def __init__(
        self,
        config: IBConfig | None = None,
        loop_thread: LoopThread | None = None,
        *,
        enable_reconnect: bool = True,
        backoff: tuple[float, float] = (0.25, 5.0),
        paper: bool | None = None,
        account_was: str | None = None,
    ) -> None:
        """``paper``: the kind of account to trade (True paper, False live, None either);
        ``account_was``: the account a resumed session traded (full or masked), the only one its
        first connect accepts. Both are checked before the on-connected callbacks run."""
        self.config = config or IBConfig.from_env()
        self.paper = paper
        self.account_was = account_was
        self.loop_thread = loop_thread or LoopThread()
        self.enable_reconnect = enable_reconnect
        self.backoff = (float(backoff[0]), float(backoff[1]))
        self.state = "disconnected"
        self.attempts = 0
        self.reconnects = 0
        self._ib: Any = None
        self._account: str | None = None
        self.refusal: AccountRefusal | None = None  # the gateway is on another account now
        self.last_failure: str | None = None  # why the latest reconnect attempt failed
        self._quiet_close = False  # closing a refused login: listeners know we are away
        self._listeners: list[_Listener] = []
        self._supervisor: asyncio.Task[None] | None = None
        self._connect_errors: list[ErrorEvent] = []
        self._refused: asyncio.Future[ErrorEvent] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()  # background work, referenced until done
        self.contracts = ContractCache(self)
        self.market_data = MarketDataMode(self)

    # ---- client object ---------------------------------------------------------------------
    @property
    def ib(self) -> Any:
        """The client ``IB`` object, created on the loop thread on first use."""
        if self._ib is None:
            if self.loop_thread.in_loop():
                self._create_ib()
            else:
                self.loop_thread.run(self._create_ib_async())
        return self._ib

    async def _create_ib_async(self) -> None:
        self._create_ib()

    def _create_ib(self) -> None:
        if self._ib is not None:
            return
        ib = IB()
        ib.errorEvent += self._on_client_error
        ib.disconnectedEvent += self._on_client_disconnected
        self._ib = ib

    # ---- properties ------------------------------------------------------------------------
    @property
    def account(self) -> str | None:
        """The account we trade: ``config.account`` or the first managed account."""
        return self._account

    @property
    def masked_account(self) -> str:
        return mask_account(self._account)

    @property
    def is_paper(self) -> bool:
        """True when the account we trade is an IB paper account."""
        return is_paper_account(self._account)

    def is_connected(self) -> bool:
        """Connected and past the on-connected callbacks (reconcile, resubscribe)."""
        return self.state == "connected" and self._ib is not None and self._ib.isConnected()

    def is_socket_connected(self) -> bool:
        """The client's socket is up (true during the on-connected callbacks too)."""
        return self._ib is not None and self._ib.isConnected()

    def require_connected(self, what: str = "this request") -> None:
        """Raise ``NotConnectedError`` naming ``what`` unless connected."""
        if not self.is_connected():
            raise NotConnectedError(
                f"cannot send {what}: not connected to the IB gateway at {self.config.address} "
                f"(state: {self.state}); nothing was sent. "
                + (
                    "Reconnection is under way; retry once it is back."
                    if self.state in ("reconnecting", "connecting")
                    else "Call connect() first."
                )
            )

    # ---- listeners -------------------------------------------------------------------------
    def add_listener(
        self,
        on_connected: OnConnected | None = None,
        on_disconnected: OnDisconnected | None = None,
        on_error: OnError | None = None,
        *,
        priority: int = 50,
    ) -> None:
        """Register callbacks; ``on_connected(reconnected)`` coroutines run by ascending priority.

        The broker registers with priority 0 (reconcile before anything is sent), the feed with 10.
        """
        self._listeners.append(_Listener(priority, on_connected, on_disconnected, on_error))
        self._listeners.sort(key=lambda item: item.priority)

    def remove_listener(self, callback: Callable[..., Any]) -> None:
        """Drop every registration that uses ``callback``."""
        self._listeners = [
            item
            for item in self._listeners
            if callback not in (item.on_connected, item.on_disconnected, item.on_error)
        ]

    # ---- connect / disconnect --------------------------------------------------------------
    def connect_blocking(self, timeout: float | None = None) -> None:
        """``connect()`` from a thread other than the loop's."""
        wait = timeout if timeout is not None else self.config.timeout * 3 + 5
        self.loop_thread.run(self.connect(), timeout=wait)

    def disconnect_blocking(self) -> None:
        """``disconnect()`` from a thread other than the loop's."""
        if self.loop_thread.is_running():
            self.loop_thread.run(self.disconnect(), timeout=self.config.timeout + 5)

    async def connect(self) -> None:
        """Connect, run the on-connected callbacks, and supervise the link from then on."""
        if self.is_connected():
            return
        self._create_ib()
        self.state = "connecting"
        self._account = None  # a connect of one's own may choose another account
        try:
            await self._connect_once()
        except BaseException:
            self.state = "disconnected"
            raise
        await self._run_connected_callbacks(reconnected=False)
        if self.state == "stopped":
            return
        if self.is_socket_connected():
            self.state = "connected"
        elif self.enable_reconnect:
            self._start_supervisor()
        else:
            self.state = "disconnected"

    async def disconnect(self) -> None:
        """Stop supervising and close the connection; listeners hear ``on_disconnected``."""
        self.state = "stopped"
        task, self._supervisor = self._supervisor, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if self._ib is not None and self._ib.isConnected():
            self._ib.disconnect()
            log.info("disconnected from IB gateway %s", self.config.address)
        # the socket's close completes on the next loop turns: let it, so nothing is left to
        # close once this loop has stopped (the client would try in its destructor)
        for _ in range(3):
            await asyncio.sleep(0)
        await self._notify_disconnected()

    async def _connect_once(self) -> None:
        cfg = self.config
        self.attempts += 1
        self._connect_errors = []
        log.info(
            "connecting to IB gateway %s as client %d (attempt %d, %s)",
            cfg.address,
            cfg.client_id,
            self.attempts,
            CLIENT_NAME,
        )
        self._refused = asyncio.get_running_loop().create_future()
        task = asyncio.ensure_future(
            self._ib.connectAsync(
                cfg.host,
                cfg.port,
                clientId=cfg.client_id,
                timeout=cfg.timeout,
                readonly=cfg.readonly,
                account=cfg.account or "",
            )
        )
        try:
            # error 326 (client id in use) arrives at once; do not wait for the client's timeout
            await asyncio.wait({task, self._refused}, return_when=asyncio.FIRST_COMPLETED)
            if not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                raise GatewayError(self._client_id_message())
            task.result()
        except ConnectionRefusedError:
            raise GatewayError(
                f"connection to {cfg.address} refused: no IB gateway is listening there. Start IB "
                "Gateway or TWS with the API enabled on that port, or set QUANTNB_IB_HOST / "
                "QUANTNB_IB_PORT (IB Gateway paper: 4002, TWS paper: 7497)"
            ) from None
        except (TimeoutError, ConnectionError, OSError) as exc:
            if any(e.code == 326 for e in self._connect_errors) or "already in use" in str(exc):
                raise GatewayError(self._client_id_message()) from None
            raise GatewayError(
                f"could not connect to the IB gateway at {cfg.address} as client {cfg.client_id}: "
                f"{type(exc).__name__} {exc or ''}(timeout {cfg.timeout} s). Check that the API "
                "is enabled and that this host is a trusted API client"
            ) from None
        if not self._ib.isConnected():
            if any(e.code == 326 for e in self._connect_errors):
                raise GatewayError(self._client_id_message())
            raise GatewayError(f"the IB gateway at {cfg.address} closed the connection at once")
        accounts = list(self._ib.managedAccounts())
        if cfg.account and cfg.account not in accounts:
            self._ib.disconnect()
            raise GatewayError(
                f"account {mask_account(cfg.account)} is not managed by this login; available: "
                f"{', '.join(mask_account(a) for a in accounts) or 'none'}. Fix QUANTNB_IB_ACCOUNT"
            )
        account = cfg.account or (accounts[0] if accounts else None)
        if self._account is None:
            try:
                if self.paper is not None:
                    check_account_kind(account, self.paper)
                if self.account_was:
                    check_account_was(account, self.account_was, cfg.address)
            except Exception:
                self._ib.disconnect()
                raise
        else:
            refusal = check_reconnect(account, self._account, self.paper, cfg.address)
            if refusal is not None:
                self._refuse(refusal)
        self._account, self.refusal = account, None
        log.info(
            "connected to IB gateway %s as client %d, account %s (%s)",
            cfg.address,
            cfg.client_id,
            mask_account(self._account),
            "paper" if self.is_paper else "LIVE",
        )

    def _refuse(self, refusal: AccountRefusal) -> None:
        """The gateway came back logged in to another account: never carry on there. Reported
        once per account found; reconnecting goes on until the session's account is back."""
        assert self._ib is not None
        self._quiet_close = True
        try:
            self._ib.disconnect()
        finally:
            self._quiet_close = False
        if self.refusal is None or self.refusal.found != refusal.found:
            self.refusal = refusal
            log.error("%s", refusal.message)
            self._emit_error(ErrorEvent(-1, 0, ErrorKind.ACCOUNT, refusal.message))
        raise GatewayError(refusal.message)

    def _client_id_message(self) -> str:
        cid = self.config.client_id
        return (
            f"client id {cid} is already in use at {self.config.address} (IB error 326): another "
            f"program or notebook is connected with it. Pick another id, e.g. "
            f"QUANTNB_IB_CLIENT_ID={cid + 1} or IBConfig(client_id={cid + 1}), or disconnect "
            "the other session"
        )

    # ---- supervision -----------------------------------------------------------------------
    def _on_client_disconnected(self) -> None:
        if self.state in ("stopped", "disconnected") or self._quiet_close:
            return
        if self.state == "connecting" and self._supervisor is None:
            return  # a failing first connect reports by raising
        log.warning("lost the connection to the IB gateway %s", self.config.address)
        task = asyncio.get_running_loop().create_task(self._notify_disconnected())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if self.enable_reconnect:
            self._start_supervisor()
        else:
            self.state = "disconnected"

    def _start_supervisor(self) -> None:
        if self.state == "stopped":
            return
        if self._supervisor is not None and not self._supervisor.done():
            return
        self.state = "reconnecting"
        self._supervisor = asyncio.get_running_loop().create_task(self._reconnect_loop())

    async def _reconnect_loop(self) -> None:
        delay, cap = self.backoff
        try:
            while self.state != "stopped":
                self.state = "reconnecting"
                try:
                    await self._connect_once()
                except (TimeoutError, GatewayError, OSError, ConnectionError) as exc:
                    self.last_failure = str(exc) or type(exc).__name__
                    log.info("reconnect to %s failed (%s); retrying in %.2f s",
                             self.config.address, exc, delay)  # fmt: skip
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, cap)
                    continue
                self.reconnects += 1
                self.last_failure = None
                log.info("reconnected to IB gateway %s after %d attempt(s)", self.config.address,
                         self.attempts)  # fmt: skip
                await self._run_connected_callbacks(reconnected=True)
                if self.is_socket_connected():
                    self.state = "connected"
                    return
        finally:
            if self._supervisor is asyncio.current_task():
                self._supervisor = None

    async def _run_connected_callbacks(self, reconnected: bool) -> None:
        for item in list(self._listeners):
            if item.on_connected is None or not self.is_socket_connected():
                continue
            try:
                await item.on_connected(reconnected)
            except Exception as exc:  # one failing listener must not block the others
                log.exception("on_connected callback %r failed", item.on_connected)
                text = f"after (re)connect: {type(exc).__name__}: {exc}"
                self._emit_error(ErrorEvent(-1, 0, ErrorKind.ERROR, text))

    async def _notify_disconnected(self) -> None:
        for item in list(self._listeners):
            if item.on_disconnected is None:
                continue
            try:
                result = item.on_disconnected()
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("on_disconnected callback %r failed", item.on_disconnected)

    # ---- errors ----------------------------------------------------------------------------
    def _on_client_error(self, req_id: int, code: int, message: str, contract: Any = None) -> None:
        kind = classify_error(code)
        if code == 162 and "no market data permission" in str(message).lower():
            kind = ErrorKind.MARKET_DATA  # IB's pacing code, but a missing subscription
        symbol = str(getattr(contract, "symbol", "") or "")
        event = ErrorEvent(int(req_id), int(code), kind, str(message), symbol)
        if self.state == "connecting" or self.state == "reconnecting":
            self._connect_errors.append(event)
            if event.code == 326 and self._refused is not None and not self._refused.done():
                self._refused.set_result(event)
        log.log(_LOG_LEVEL[kind], "%s", event)
        self._emit_error(event)

    def _emit_error(self, event: ErrorEvent) -> None:
        for item in list(self._listeners):
            if item.on_error is None:
                continue
            try:
                item.on_error(event)
            except Exception:
                log.exception("on_error callback %r failed", item.on_error)
