"""Every hostile-input kind of issue 12 ends in a finding or a one-line error, with nothing written outside ROOT.

The kinds live in hardening_kinds.py (``python tests/hardening_kinds.py`` runs them through real
subprocesses and prints the table of docs/reliability.md); here they run in-process, under an
alarm so that a regression that hangs (a FIFO read) fails instead of stalling the suite.
"""

from __future__ import annotations

import signal

import hardening_kinds
import pytest
from hardening_kinds import KINDS, try_kind


def _timeout(signum, frame):
    raise TimeoutError("the kind did not finish in 120 s (a hang)")


@pytest.mark.parametrize("kind", list(KINDS))
def test_kind_keeps_every_promise(kind, monkeypatch):
    monkeypatch.setattr(hardening_kinds, "IN_PROCESS", True)
    previous = signal.signal(signal.SIGALRM, _timeout)
    signal.alarm(120)
    try:
        assert try_kind(kind)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
