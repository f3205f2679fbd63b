"""Database storage that rides out a restart: storage calls retried with backoff.

A PostgreSQL server restarted mid-study (an upgrade, a failover) drops every
connection. Without retries each worker dies on its next storage call with a
traceback, leaving its group RUNNING. Here each storage call that fails for
a lost connection is retried with exponential backoff for up to
``RETRY_FOR_S`` seconds, with one warning when the storage is lost and one
when it is back, so the study goes on by itself.

Retrying is safe because a call that failed this way rolled back, with one
narrow exception: a commit that succeeded just before the connection broke.
Telling a trial twice is recognised (its state is already the one asked for).
A trial created twice that way stays RUNNING under its owner, which then
ends one trial short of the budget; the next run settles the extra one as
interrupted (not counted, not trained) and runs what is missing.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from optuna.exceptions import UpdateFinishedTrialError
from optuna.storages import RDBStorage

__all__ = ["RETRY_FOR_S", "RetryingRDBStorage", "connection_lost", "open_rdb"]

#: How long storage calls are retried before the error is raised.
RETRY_FOR_S = 120.0
_FIRST_DELAY_S = 0.25
_MAX_DELAY_S = 8.0

_log = logging.getLogger(__name__)
_depth = threading.local()

_METHODS = (
    "create_new_study",
    "delete_study",
    "set_study_user_attr",
    "set_study_system_attr",
    "get_study_id_from_name",
    "get_study_name_from_id",
    "get_study_directions",
    "get_study_user_attrs",
    "get_study_system_attrs",
    "get_trial_user_attrs",
    "get_trial_system_attrs",
    "get_all_studies",
    "create_new_trial",
    "set_trial_param",
    "get_trial_param",
    "set_trial_state_values",
    "set_trial_intermediate_value",
    "set_trial_user_attr",
    "set_trial_system_attr",
    "get_trial_id_from_study_id_trial_number",
    "get_trial",
    "get_all_trials",
    "_get_trials",
    "get_best_trial",
)


def connection_lost(exc: BaseException) -> bool:
    """Whether ``exc`` (or an exception it was raised from) is a lost database connection."""
    from sqlalchemy import exc as sa

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, (sa.OperationalError, sa.InterfaceError, sa.DisconnectionError)):
            return True
        if isinstance(seen, sa.DBAPIError) and seen.connection_invalidated:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _already_told(storage: RDBStorage, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    """Whether ``set_trial_state_values(*args, **kwargs)`` is already in the storage."""
    trial_id = args[0] if args else kwargs["trial_id"]
    state = args[1] if len(args) > 1 else kwargs["state"]
    return bool(RDBStorage.get_trial(storage, trial_id).state == state)


def _retrying(
    storage: RDBStorage | None,
    name: str,
    call: Callable[[], Any],
    args: tuple[Any, ...] = (),
    kwargs: dict[str, Any] | None = None,
) -> Any:
    """Run ``call`` (``storage.<name>(*args, **kwargs)``, or opening the storage when
    ``storage`` is ``None``), retrying it while the connection is lost."""
    if getattr(_depth, "n", 0):
        return call()  # an outer storage call already retries
    _depth.n = 1
    start = time.monotonic()
    delay, attempt = _FIRST_DELAY_S, 0
    try:
        while True:
            try:
                result = call()
            except UpdateFinishedTrialError:
                if (
                    attempt
                    and storage is not None
                    and name == "set_trial_state_values"
                    and _already_told(storage, args, kwargs or {})
                ):
                    return True  # the attempt that lost its connection had committed
                raise
            except Exception as exc:
                waited = time.monotonic() - start
                if not connection_lost(exc) or waited + delay > RETRY_FOR_S:
                    raise
                attempt += 1
                if attempt == 1:
                    _log.warning(
                        "storage connection lost in %s (%s); retrying for up to %.0f s",
                        name,
                        str(exc.__cause__ or exc).splitlines()[0],
                        RETRY_FOR_S,
                    )
                if storage is not None:
                    storage.remove_session()
                time.sleep(delay)
                delay = min(2 * delay, _MAX_DELAY_S)
                continue
            if attempt:
                _log.warning(
                    "storage reachable again after %.1f s (%d retries of %s)",
                    time.monotonic() - start,
                    attempt,
                    name,
                )
            return result
    finally:
        _depth.n = 0


def open_rdb(url: str) -> RetryingRDBStorage:
    """Open the database storage at ``url``, waiting (as every call does) while it is away.

    ``pool_pre_ping``: after a restart, pooled connections are dead; each is
    checked before use instead of failing the next call on it.
    """
    storage: RetryingRDBStorage = _retrying(
        None,
        "opening the storage",
        lambda: RetryingRDBStorage(url, engine_kwargs={"pool_pre_ping": True}),
    )
    return storage


class RetryingRDBStorage(RDBStorage):
    """Optuna's ``RDBStorage`` whose calls are retried while the database is unreachable."""


def _wrap(name: str) -> Callable[..., Any]:
    method = getattr(RDBStorage, name)

    @functools.wraps(method)
    def call(self: RDBStorage, *args: Any, **kwargs: Any) -> Any:
        return _retrying(self, name, lambda: method(self, *args, **kwargs), args, kwargs)

    return call


for _name in _METHODS:
    setattr(RetryingRDBStorage, _name, _wrap(_name))
