"""Schedules over a run: the learning rate's decay and the generator's moving-average warm-up.

Both are pure functions of a checkpointed step counter, so a resumed run continues the schedule where the
interrupted one was, and both run inside a compiled, replicated train step.
"""

import keras
import tensorflow as tf

from cgan_tf.registry import Registry

# --lr_schedule: how the learning rate goes from its peak (--g_learning_rate, --d_learning_rate) over the
# run; each maps (peak, decay_steps) to the optimizer's learning rate.
LR_SCHEDULES = Registry("learning-rate schedule", {
    "constant": lambda peak, decay_steps: peak,
    # SNGAN's and the projection discriminator's recipe: a straight line to zero at the last update.
    "linear": lambda peak, decay_steps: keras.optimizers.schedules.PolynomialDecay(
        peak, decay_steps, end_learning_rate=0.0, power=1.0),
    "cosine": lambda peak, decay_steps: keras.optimizers.schedules.CosineDecay(peak, decay_steps, alpha=0.0),
})


def learning_rate(peak: float, schedule: str, decay_steps: int):
  """The learning rate of one optimizer: the float `peak`, or a schedule of its update count.

  Args:
    peak: the learning rate at the first update.
    schedule: one of LR_SCHEDULES. "linear" falls in a straight line to zero at `decay_steps` (SNGAN's
      and the projection discriminator's recipe); "cosine" follows half a cosine to zero.
    decay_steps: the optimizer's updates over the whole run (a discriminator with --d_steps=k updates k
      times per step). After them the rate stays at zero.

  Returns:
    A float for "constant", else a `keras.optimizers.schedules.LearningRateSchedule`, which the optimizer
    evaluates at its own (checkpointed) iteration count.

  Raises:
    ValueError: for an unknown schedule (`registry.UnknownNameError`), or a decay without a positive
      number of steps.
  """
  build = LR_SCHEDULES[schedule]
  if schedule != "constant" and decay_steps <= 0:
    raise ValueError(f"a {schedule} learning-rate decay needs the run's length in steps, got {decay_steps}")
  return build(peak, decay_steps)


def ema_decay(step, decay: float, start: int):
  """The moving average's decay at train step `step` (0-based): 0 before `start`, then `decay`.

  A decay of 0 makes the average a copy of the generator. Starting the average after a warm-up (BigGAN's
  `ema_start`) keeps the random initial weights and the fast-changing first steps out of it: with decay
  0.999 the initial weights would still weigh exp(-1) ~ 0.37 after 1,000 steps, and the samples of an
  early checkpoint would show mostly noise. A fixed start was chosen over a decay that ramps with the
  step (min(decay, (1 + t) / (10 + t))) because its meaning is plain (the average covers the steps after
  `start`), the average before it is exactly the generator, and it is set per run in steps.

  Args:
    step: the step counter, an int or an integer tensor (read inside the train step).
    decay: the decay after the warm-up, in [0, 1).
    start: the first step whose update is averaged rather than copied (0: average from the start).

  Returns:
    A float32 scalar tensor.
  """
  step = tf.cast(step, tf.int64)
  return tf.where(step < start, tf.constant(0.0, tf.float32), tf.constant(decay, tf.float32))
