"""Keyword options checked by name: a misspelt one (``jurnal_dir=``) raises ``OptionError``
listing the options that exist, instead of a TypeError or, worse, being ignored.
"""

from __future__ import annotations

import difflib
import functools
import inspect
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from quantnb.errors import OptionError

F = TypeVar("F", bound=Callable[..., Any])


def check_options(where: str, given: Iterable[str], known: Iterable[str]) -> None:
    """Raise OptionError naming every option in ``given`` that is not in ``known``."""
    known = sorted(set(known))
    unknown = [k for k in given if k not in known]
    if not unknown:
        return
    hints = {
        k: close[0]
        for k in unknown
        if (close := difflib.get_close_matches(k, known, n=1, cutoff=0.6))
    }
    if len(unknown) == 1 and hints:
        guess = f" Did you mean {hints[unknown[0]]!r}?"
    else:
        guess = "".join(f" Did you mean {v!r} for {k!r}?" for k, v in hints.items())
    raise OptionError(
        f"{where}: unknown option{'s' if len(unknown) > 1 else ''} "
        f"{', '.join(repr(k) for k in unknown)}.{guess} The options are: {', '.join(known)}"
    )


def keyword_names(fn: Callable[..., Any], exclude: Iterable[str] = ()) -> frozenset[str]:
    """The parameters of ``fn`` that can be passed by keyword, less ``exclude``."""
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    params = inspect.signature(fn).parameters.values()
    return frozenset(p.name for p in params if p.kind in kinds) - set(exclude)


def checked_options(fn: F) -> F:
    """Decorate ``fn`` so an unknown keyword raises OptionError (a ConfigError and a TypeError)."""
    names = keyword_names(fn)
    where = f"{fn.__name__}()"

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not names.issuperset(kwargs):
            check_options(where, kwargs, names)
        return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
