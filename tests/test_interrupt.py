"""One Ctrl-C always stops a run, even when Python swallows its KeyboardInterrupt."""

from __future__ import annotations

import os
import signal
import sys
import time

import pytest

from sweeplab.study import _interrupt


class _Finalized:
    def __del__(self) -> None:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)


def test_interrupt_swallowed_in_a_finalizer_is_raised_at_the_next_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lost: list[type[BaseException] | None] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda info: lost.append(info.exc_type))
    before = signal.getsignal(signal.SIGINT)
    with _interrupt.handling_sigint():
        _interrupt.check()
        _Finalized()  # its KeyboardInterrupt goes to sys.unraisablehook and is lost
        assert lost == [KeyboardInterrupt]
        with pytest.raises(KeyboardInterrupt):
            _interrupt.check()
    assert signal.getsignal(signal.SIGINT) is before
    _interrupt.check()


def _send(signum: int) -> None:
    os.kill(os.getpid(), signum)
    time.sleep(1)


def _ctrl_c() -> None:
    _send(signal.SIGINT)


def test_ctrl_c_still_raises_at_once() -> None:
    with _interrupt.handling_sigint(), pytest.raises(KeyboardInterrupt):
        _ctrl_c()


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_sigterm_stops_like_ctrl_c_with_its_own_exit_code(signum: int, code: int) -> None:
    before = {s: signal.getsignal(s) for s in _interrupt.SIGNALS}
    with _interrupt.handling_signals(), pytest.raises(KeyboardInterrupt):
        _send(signum)
    assert _interrupt.exit_code() == code
    assert {s: signal.getsignal(s) for s in _interrupt.SIGNALS} == before
    with _interrupt.handling_signals():
        assert _interrupt.exit_code() == 130, "a new block forgets the last signal"
