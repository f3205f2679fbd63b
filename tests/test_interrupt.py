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


def _ctrl_c() -> None:
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(1)


def test_ctrl_c_still_raises_at_once() -> None:
    with _interrupt.handling_sigint(), pytest.raises(KeyboardInterrupt):
        _ctrl_c()
