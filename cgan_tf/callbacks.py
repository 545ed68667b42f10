"""Keras callbacks that run at global-step intervals: checkpoints, sample grids, summaries, the stop."""

import math
import os
import time

from absl import logging
import keras
import tensorflow as tf

from cgan_tf import checkpoints
from cgan_tf import samples
from cgan_tf.checkpoints import CheckpointError, NonFiniteError


class StepCallback(keras.callbacks.Callback):
  """Tracks the global train step on the host, without reading a device variable every batch.

  Args:
    start_step: the step training starts (or resumes) at.
    steps_per_execution: train steps run by each call that ends in `on_train_batch_end`.
  """

  def __init__(self, start_step: int, steps_per_execution: int):
    super().__init__()
    self.step = start_step
    self.steps_per_execution = steps_per_execution

  def on_train_batch_end(self, batch, logs=None):
    self.step += self.steps_per_execution
    self.on_step_end(self.step, logs or {})

  def on_step_end(self, step, logs):
    pass


class StopAtStep(StepCallback):
  """Stops `fit` after `total_steps`, which need not be a whole number of epochs."""

  def __init__(self, start_step, steps_per_execution, total_steps):
    super().__init__(start_step, steps_per_execution)
    self.total_steps = total_steps

  def on_step_end(self, step, logs):
    if step >= self.total_steps:
      self.model.stop_training = True


class StopAfterTime(StepCallback):
  """Stops `fit` once `minutes` of training have passed in this process, not counting the time spent in
  callbacks that declare it (`paused_seconds`, e.g. evaluation). The Checkpointer saves at the end.

  Args:
    start_step, steps_per_execution: as for `StepCallback`.
    minutes: the budget.
    pausers: callbacks with a `paused_seconds` attribute, whose time is not training time.
  """

  def __init__(self, start_step, steps_per_execution, minutes, pausers=()):
    super().__init__(start_step, steps_per_execution)
    self.seconds = minutes * 60.0
    self.pausers = list(pausers)
    self.started = None

  def on_train_begin(self, logs=None):
    self.started = time.perf_counter()

  def training_seconds(self) -> float:
    paused = sum(getattr(pauser, "paused_seconds", 0.0) for pauser in self.pausers)
    return time.perf_counter() - self.started - paused

  def on_step_end(self, step, logs):
    if self.training_seconds() >= self.seconds:
      logging.info("--train_minutes: %.1f minutes of training reached at step %d; stopping", self.seconds / 60,
                   step)
      self.model.stop_training = True


class NonFiniteGuard(StepCallback):
  """Stops training at the first step whose losses are NaN or infinite, before anything saves them.

  Keras hands callbacks the logs as host floats already, so the check costs no extra device read. Put it
  before the Checkpointer and the other writers in the callback list.

  Args:
    start_step, steps_per_execution: as for `StepCallback`.
    checkpoint_directory: where the run's checkpoints are, to name the last good one.
    keys: the logged values that must stay finite.
  """

  def __init__(self, start_step, steps_per_execution, checkpoint_directory, keys=("d_loss", "g_loss")):
    super().__init__(start_step, steps_per_execution)
    self.checkpoint_directory = checkpoint_directory
    self.keys = keys

  def on_step_end(self, step, logs):
    bad = {key: logs[key] for key in self.keys if key in logs and not math.isfinite(float(logs[key]))}
    if bad:
      values = ", ".join(f"{key}={value}" for key, value in sorted(bad.items()))
      # The logs are running means over the epoch, so a NaN shows at the first step that produced it.
      when = (f"step {step}" if self.steps_per_execution == 1 else
              f"one of steps {step - self.steps_per_execution + 1}-{step}")
      raise NonFiniteError(
          f"training diverged: {values} at {when}; nothing from this step was saved. Last good checkpoint: "
          f"{checkpoints.last_good_checkpoint(self.checkpoint_directory)}. Lower --g_learning_rate and "
          f"--d_learning_rate before resuming.")


class Checkpointer(StepCallback):
  """Saves a checkpoint every `every` steps and when training ends, never one with non-finite weights.

  A failed write (disk full, directory gone) stops training with a `CheckpointError`; the manager deletes
  old checkpoints only after a successful save, so the earlier ones stay intact.
  """

  def __init__(self, start_step, steps_per_execution, checkpoint_manager, every):
    super().__init__(start_step, steps_per_execution)
    self.manager = checkpoint_manager
    self.every = every
    self.last_saved = start_step

  def check_finite(self, step):
    variables = (self.model.generator.weights + self.model.discriminator.weights
                 + self.model.g_optimizer.variables + self.model.d_optimizer.variables
                 + (self.model.ema_generator.weights if self.model.ema_generator is not None else []))
    bad = checkpoints.non_finite_variables(variables)
    if bad:
      shown = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
      raise NonFiniteError(
          f"training diverged: at step {step} these variables hold NaN or Inf: {shown}; the checkpoint of "
          f"step {step} was not written. Last good checkpoint: "
          f"{checkpoints.last_good_checkpoint(self.manager.directory)}. Lower --g_learning_rate and "
          f"--d_learning_rate before resuming.")

  def save(self, step):
    if step != self.last_saved:
      self.check_finite(step)
      try:
        path = self.manager.save(checkpoint_number=step)
      except (tf.errors.OpError, OSError) as e:
        raise CheckpointError(
            f"writing the checkpoint of step {step} to {self.manager.directory} failed ({e}); training "
            f"stopped. Earlier checkpoints are intact; last good checkpoint: "
            f"{checkpoints.last_good_checkpoint(self.manager.directory)}") from e
      self.last_saved = step
      logging.info("Saved checkpoint %s", path)

  def on_step_end(self, step, logs):
    if step % self.every == 0:
      self.save(step)

  def on_train_end(self, logs=None):
    self.save(self.step)


class GridWriter(StepCallback):
  """Renders the progress frame (the fixed noise x class grid, or a scatter plot of points) to PNG and
  TensorBoard every `every` steps and at the end.

  Args:
    start_step, steps_per_execution: as for `StepCallback`.
    every: steps between frames.
    samples_dir: where grid_<step>.png files go.
    writer: the run's TensorBoard summary writer.
    render: the GAN model -> uint8 [H, W, C] frame (`samples.progress_renderer`).
  """

  def __init__(self, start_step, steps_per_execution, every, samples_dir, writer, render):
    super().__init__(start_step, steps_per_execution)
    self.every = every
    self.samples_dir = samples_dir
    self.writer = writer
    self.render = render
    self.last_written = None

  def write(self, step):
    if step == self.last_written:
      return
    grid = self.render(self.model)
    path = os.path.join(self.samples_dir, f"grid_{step:08d}.png")
    try:
      tf.io.gfile.makedirs(self.samples_dir)
      samples.write_png(grid, path)
    except (tf.errors.OpError, OSError) as e:
      raise CheckpointError(f"writing the sample grid {path} failed ({e}); training stopped. Checkpoints are "
                            f"intact; rerun the same command to resume.") from e
    with self.writer.as_default():
      tf.summary.image("samples/grid", grid[None], step=step)
    self.writer.flush()
    self.last_written = step

  def on_train_begin(self, logs=None):
    self.write(self.step)

  def on_step_end(self, step, logs):
    if step % self.every == 0:
      self.write(step)

  def on_train_end(self, logs=None):
    self.write(self.step)


class ScalarWriter(StepCallback):
  """Writes the step's logs (losses, accuracies, loss scales) to TensorBoard every `every` steps."""

  def __init__(self, start_step, steps_per_execution, every, writer):
    super().__init__(start_step, steps_per_execution)
    self.every = every
    self.writer = writer

  def on_step_end(self, step, logs):
    if step % self.every:
      return
    with self.writer.as_default():
      for name, value in logs.items():
        tf.summary.scalar(f"train/{name}", value, step=step)

  def on_train_end(self, logs=None):
    self.writer.flush()
