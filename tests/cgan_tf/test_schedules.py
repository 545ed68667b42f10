"""The run's schedules as pure functions: the learning rate's decay (and that it follows the optimizer's
checkpointed update count, loss-scaled or not) and the moving average's warm-up."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from cgan_tf import loss_scale
from cgan_tf import schedules

PEAK = 2e-4


def expected_rate(schedule, step, decay_steps):
  progress = min(step, decay_steps) / decay_steps
  if schedule == "linear":
    return PEAK * (1.0 - progress)
  return PEAK * 0.5 * (1.0 + math.cos(math.pi * progress))


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_a_decay_falls_from_the_peak_to_zero_at_the_last_step_and_stays_there(schedule):
  rate = schedules.learning_rate(PEAK, schedule, 100)
  assert isinstance(rate, keras.optimizers.schedules.LearningRateSchedule)
  for step in (0, 1, 25, 50, 75, 99, 100, 150):
    assert float(rate(step)) == pytest.approx(expected_rate(schedule, step, 100), rel=1e-4, abs=1e-12)
  assert float(rate(0)) == pytest.approx(PEAK) and float(rate(100)) == 0.0 and float(rate(150)) == 0.0
  # Half-way: linear at half the peak; cosine also at half (the curve is symmetric about the middle),
  # but above it before the middle and below it after.
  assert float(rate(50)) == pytest.approx(PEAK / 2, rel=1e-5)
  if schedule == "cosine":
    assert float(rate(25)) > PEAK * 0.75 and float(rate(75)) < PEAK * 0.25


def test_constant_is_the_plain_float():
  assert schedules.learning_rate(PEAK, "constant", 0) == PEAK


@pytest.mark.parametrize("schedule,decay_steps,needle", [("step", 100, "unknown"), ("linear", 0, "length"),
                                                         ("cosine", -5, "length")])
def test_a_schedule_it_cannot_make_is_refused(schedule, decay_steps, needle):
  with pytest.raises(ValueError, match=needle):
    schedules.learning_rate(PEAK, schedule, decay_steps)


@pytest.mark.parametrize("precision", ["float32", "mixed_float16"])
def test_the_rate_follows_the_optimizers_update_count_through_a_checkpoint(precision, tmp_path):
  """The schedule itself is not saved: a new optimizer with the same schedule restores the update count and
  continues at the same rate. A loss-scale optimizer forwards its learning rate to the one it wraps."""
  variable = keras.Variable(np.ones(3, np.float32))

  def make():
    optimizer = loss_scale.wrap(keras.optimizers.Adam(schedules.learning_rate(PEAK, "linear", 10)), precision)
    optimizer.build([variable])
    return optimizer

  optimizer = make()
  for _ in range(3):
    optimizer.apply([tf.ones(3)], [variable])
  assert float(optimizer.learning_rate) == pytest.approx(PEAK * 0.7, rel=1e-5)
  path = tf.train.Checkpoint(optimizer=loss_scale.inner(optimizer)).save(str(tmp_path / "ckpt"))
  restored = make()
  assert float(restored.learning_rate) == pytest.approx(PEAK)
  tf.train.Checkpoint(optimizer=loss_scale.inner(restored)).restore(path).assert_existing_objects_matched()
  assert int(restored.iterations) == 3
  assert float(restored.learning_rate) == pytest.approx(PEAK * 0.7, rel=1e-5)


def test_the_moving_average_copies_until_its_start_then_decays():
  assert [float(schedules.ema_decay(step, 0.999, 3)) for step in range(6)] == pytest.approx(
      [0.0, 0.0, 0.0, 0.999, 0.999, 0.999])
  assert float(schedules.ema_decay(0, 0.999, 0)) == pytest.approx(0.999)  # 0: average from the first step
  # A pure function of the step tensor: the same inside a compiled function as eagerly.
  compiled = tf.function(lambda step: schedules.ema_decay(step, 0.9, 1000), jit_compile=True)
  for step in (0, 999, 1000, 10 ** 9):
    assert float(compiled(tf.constant(step, tf.int64))) == float(schedules.ema_decay(step, 0.9, 1000))
  assert schedules.ema_decay(tf.constant(5, tf.int64), 0.5, 2).dtype == tf.float32
