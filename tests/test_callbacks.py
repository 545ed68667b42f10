"""Step-interval callbacks whose logic needs no training: the wall-clock stop and what it does not count."""

import types

from cgan_tf import callbacks as callbacks_lib


class FakeClock:
  def __init__(self):
    self.now = 1000.0

  def __call__(self):
    return self.now


def stop_after(minutes, monkeypatch, pausers=()):
  clock = FakeClock()
  monkeypatch.setattr(callbacks_lib.time, "perf_counter", clock)
  callback = callbacks_lib.StopAfterTime(0, 1, minutes, pausers)
  callback.set_model(types.SimpleNamespace(stop_training=False))
  callback.on_train_begin()
  return callback, clock


def test_training_stops_once_the_minutes_have_passed(monkeypatch):
  callback, clock = stop_after(2.0, monkeypatch)
  clock.now += 119.0
  callback.on_train_batch_end(0)
  assert not callback.model.stop_training
  clock.now += 1.0
  callback.on_train_batch_end(1)
  assert callback.model.stop_training and callback.step == 2


def test_time_spent_measuring_is_not_training_time(monkeypatch):
  evaluation = types.SimpleNamespace(paused_seconds=0.0)
  callback, clock = stop_after(1.0, monkeypatch, pausers=[evaluation])
  clock.now += 50.0
  evaluation.paused_seconds += 30.0  # A measurement took 30 s of the 80 s so far.
  clock.now += 30.0
  callback.on_train_batch_end(0)
  assert not callback.model.stop_training and callback.training_seconds() == 50.0
  clock.now += 10.0
  callback.on_train_batch_end(1)
  assert callback.model.stop_training
