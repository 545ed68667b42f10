"""cgan_tf/preemption.py: SIGTERM and SIGINT are caught while training, ended at once during setup, and
noted once training has begun; a second signal is only logged; the previous handlers come back."""

import os
import signal

import pytest

from cgan_tf import preemption


def test_a_signal_during_setup_ends_it_at_once():
  with pytest.raises(preemption.StopRequested) as stopped:
    with preemption.StopRequest() as request:
      os.kill(os.getpid(), signal.SIGTERM)
      pytest.fail("the handler should have raised")
  assert str(stopped.value) == "SIGTERM" and request.requested
  # Not an Exception: the `except Exception` blocks on the way do not swallow it.
  assert not isinstance(stopped.value, Exception)


def test_once_training_began_signals_are_noted_and_the_first_one_counts(absl_records):
  before = {signum: signal.getsignal(signum) for signum in preemption.SIGNALS}
  with preemption.StopRequest() as request:
    request.defer()
    assert not request.requested
    os.kill(os.getpid(), signal.SIGINT)
    assert request.requested and request.signal_name == "SIGINT"
    os.kill(os.getpid(), signal.SIGTERM)
    os.kill(os.getpid(), signal.SIGINT)
    assert request.signal_name == "SIGINT"
  assert sum("received while stopping on SIGINT" in m for m in absl_records) == 2
  assert {signum: signal.getsignal(signum) for signum in preemption.SIGNALS} == before


def test_install_takes_the_signals_back_from_a_handler_set_since():
  with preemption.StopRequest() as request:
    request.defer()
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # As TensorFlow's multi-worker runtime does for SIGTERM.
    request.install()
    os.kill(os.getpid(), signal.SIGTERM)
    assert request.signal_name == "SIGTERM"
