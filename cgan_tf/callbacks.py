"""Keras callbacks that run at global-step intervals: checkpoints, sample grids, summaries, progress, the stop."""

import math
import os
import shlex
import sys
import time

from absl import logging
import keras
import tensorflow as tf

from cgan_tf import checkpoints
from cgan_tf import data as data_lib
from cgan_tf import preemption
from cgan_tf import samples
from cgan_tf.checkpoints import CheckpointError, NonFiniteError
from cgan_tf.run_dir import RunDir, grid_filename


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


class StopOnRequest(StepCallback):
  """Stops `fit` after the step in flight when a stop signal arrived, and checkpoints exactly that step.

  Put it last in the callback list, so a signal that lands in another callback's work at a step (an
  evaluation, a grid) still stops at that step. With one worker it stops after the step during which the
  signal arrived. Under several workers it votes through the next train step (`preemption.STOP_VOTE`)
  and every worker stops after the step whose averaged vote is above zero: the same step on each.

  Args:
    start_step, steps_per_execution: as for `StepCallback`.
    request: the process's `preemption.StopRequest`.
    checkpointer: the run's `Checkpointer`, which saves the step.
    multi_worker: whether the stop must be agreed with peer workers.
  """

  def __init__(self, start_step, steps_per_execution, request, checkpointer, multi_worker=False):
    super().__init__(start_step, steps_per_execution)
    self.request = request
    self.checkpointer = checkpointer
    self.multi_worker = multi_worker
    self.voted = False
    self.stopped_at = None

  def on_train_batch_begin(self, batch, logs=None):
    # From the first step on there is training to save: a signal now waits for the step in flight.
    self.request.defer()
    if self.multi_worker and self.request.requested and not self.voted:
      self.model.stop_vote.assign(1.0)
      self.voted = True

  def on_step_end(self, step, logs):
    if self.multi_worker:
      stop = float(logs.get(preemption.STOP_VOTE, 0.0)) > 0
    else:
      stop = self.request.requested
    if stop and self.stopped_at is None:
      self.stopped_at = step
      self.checkpointer.save(step)
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
      # The logs are means since the last --log_every point, so a NaN shows at the first step that produced it.
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
    path = os.path.join(self.samples_dir, grid_filename(step))
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


def learning_rate(optimizer) -> float:
  """The optimizer's current learning rate (a LossScaleOptimizer forwards to the one it wraps)."""
  return float(keras.ops.convert_to_numpy(optimizer.learning_rate))


def _hparam_value(value):
  # The hparams plugin takes numbers, booleans and strings; tuples and None are shown as text.
  return value if isinstance(value, (bool, int, float, str)) else str(value)


def write_config_summary(writer, config, step: int) -> None:
  """Writes the resolved configuration to TensorBoard: as text (every field), and as hparams, so the
  HPARAMS tab can line up runs by their settings."""
  from tensorboard.plugins.hparams import api as hparams_api  # A dependency of tensorflow; slow to import.

  text = "\n".join("    " + line for line in config.to_json().splitlines())  # Indented: a Markdown code block.
  with writer.as_default():
    tf.summary.text("config", text, step=step)
    hparams_api.hparams({name: _hparam_value(value) for name, value in config.to_dict().items()},
                        trial_id=config.run_dir or None)
  writer.flush()


class ScalarWriter(StepCallback):
  """Writes the logs (losses, accuracies, loss scales) and both learning rates to TensorBoard every `every`
  steps, and the configuration once.

  Each point is the mean over its own interval: the model's trackers keep running means, so they are
  restarted after every write (Keras also restarts them at each epoch, so an interval that spans an epoch
  boundary averages its steps after the boundary). The progress line shows the same interval means.

  Args:
    start_step, steps_per_execution: as for `StepCallback`.
    every: steps between points.
    writer: the run's TensorBoard summary writer.
    config: the resolved configuration to record when training starts; None records none.
  """

  def __init__(self, start_step, steps_per_execution, every, writer, config=None):
    super().__init__(start_step, steps_per_execution)
    self.every = every
    self.writer = writer
    self.config = config

  def on_train_begin(self, logs=None):
    if self.config is not None:
      write_config_summary(self.writer, self.config, self.step)

  def on_step_end(self, step, logs):
    if step % self.every:
      return
    with self.writer.as_default():
      for name, value in logs.items():
        if name != preemption.STOP_VOTE:
          tf.summary.scalar(f"train/{name}", value, step=step)
      for name, optimizer in (("g_learning_rate", self.model.g_optimizer),
                              ("d_learning_rate", self.model.d_optimizer)):
        tf.summary.scalar(f"train/{name}", learning_rate(optimizer), step=step)
    self.model.reset_metrics()

  def on_train_end(self, logs=None):
    self.writer.flush()


def format_duration(seconds: float) -> str:
  """1h02m, 3m05s, 42s."""
  seconds = int(round(max(seconds, 0.0)))
  hours, rest = divmod(seconds, 3600)
  minutes, seconds = divmod(rest, 60)
  if hours:
    return f"{hours}h{minutes:02d}m"
  return f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"


LEADING_LOGS = ("d_loss", "g_loss")  # Shown first; the rest of the logs follow in name order.


def _format_value(value) -> str:
  value = float(value)
  return f"{value:.4g}" if abs(value) < 1e4 else f"{value:.3g}"


class Progress(StepCallback):
  """Shows a run as whole progress lines and ends with a summary of where everything is.

    step 1200/5000 (24%) | 2m10s, ETA 6m51s | 590 img/s | d_loss 1.21 g_loss 0.874 ... | eval@1000 ...

  A line is printed after the first step (which includes tracing), then every `every_seconds`, and at the
  end. Whole lines, each written and flushed at once, rather than a carriage-return bar: log messages
  (absl's, and TensorFlow's C++ ones, which bypass Python) land between lines instead of inside one, on
  a terminal and in a log file alike.

  The losses are the means since the last --log_every point (ScalarWriter restarts them there); images/s
  counts real training images over training time (evaluation pauses left out), the ETA the wall-clock time
  including them.

  Args:
    start_step, steps_per_execution: as for `StepCallback`.
    total_steps: the step training stops at.
    examples_per_step: real images one step consumes.
    config: the resolved configuration (run directory, network, verbosity, --progress_seconds).
    output_dir: where this process writes: the run directory on the chief; elsewhere no summary is printed.
    watched: other callbacks: `paused_seconds` (time that is not training) and `latest` ((step, headline
      figures) of the newest evaluation) are read from those that have them.
    stream: where to write (default: sys.stdout when writing).
    clock: seconds, monotonic (for tests).
  """

  def __init__(self, start_step, steps_per_execution, total_steps, examples_per_step, config, output_dir,
               watched=(), stream=None, clock=time.perf_counter):
    super().__init__(start_step, steps_per_execution)
    self.start_step = start_step
    self.total_steps = total_steps
    self.examples_per_step = examples_per_step
    self.config = config
    self.output_dir = output_dir
    self.watched = list(watched)
    self.stream = stream
    self.clock = clock
    self.every_seconds = config.progress_seconds
    self.enabled = config.verbose > 0
    self.began = self.first_done = self.last_printed = self.last_printed_step = None
    self.first_step = start_step
    self.paused_at_first = 0.0
    self.logs = {}

  def _write(self, line: str) -> None:
    stream = self.stream or sys.stdout
    stream.write(line + "\n")
    stream.flush()

  def paused_seconds(self) -> float:
    return sum(getattr(callback, "paused_seconds", 0.0) for callback in self.watched)

  def latest_evaluation(self):
    """(step, headline figures) of the newest evaluation of any watched callback, or None."""
    found = [callback.latest for callback in self.watched if getattr(callback, "latest", None)]
    return max(found, key=lambda latest: latest[0]) if found else None

  def line(self, step: int, logs: dict) -> str:
    """The progress line at `step`."""
    now = self.clock()
    parts = [f"step {step}/{self.total_steps} ({100.0 * step / max(self.total_steps, 1):.0f}%)"]
    timing = format_duration(now - self.began)
    steps_done = step - self.first_step
    if steps_done > 0:
      wall = now - self.first_done
      training = max(wall - (self.paused_seconds() - self.paused_at_first), 1e-9)
      eta = (self.total_steps - step) * wall / steps_done
      timing += f", ETA {format_duration(eta)}"
      parts += [timing, f"{steps_done * self.examples_per_step / training:.0f} img/s"]
    else:
      parts.append(timing + " (the first step includes tracing)")
    if logs:
      names = [name for name in LEADING_LOGS if name in logs] + sorted(set(logs) - set(LEADING_LOGS))
      parts.append(" ".join(f"{name} {_format_value(logs[name])}" for name in names))
    latest = self.latest_evaluation()
    if latest:
      eval_step, figures = latest
      parts.append(f"eval@{eval_step} " + " ".join(f"{name} {_format_value(value)}"
                                                  for name, value in figures.items()))
    return " | ".join(parts)

  def on_train_begin(self, logs=None):
    self.began = self.clock()

  def on_step_end(self, step, logs):
    self.logs = {name: value for name, value in logs.items() if name != preemption.STOP_VOTE}
    now = self.clock()
    if self.first_done is None:  # Rates are measured from here, past the tracing of the first call.
      self.first_done, self.first_step, self.paused_at_first = now, step, self.paused_seconds()
    elif self.last_printed is not None and now - self.last_printed < self.every_seconds:
      return
    if self.enabled:
      self._write(self.line(step, self.logs))
    self.last_printed, self.last_printed_step = now, step

  def on_train_end(self, logs=None):
    if not self.enabled:
      return
    if self.last_printed_step is not None and self.last_printed_step != self.step:
      self._write(self.line(self.step, self.logs))
    if self.output_dir == self.config.run_dir:
      self._write(self.summary())

  def summary(self) -> str:
    """Where the run's files are, and the commands that use them."""
    run_dir = self.config.run_dir
    layout = RunDir(run_dir)
    seconds = self.clock() - self.began
    done = self.step >= self.total_steps
    lines = [f"Trained steps {self.start_step}-{self.step} of {self.total_steps} in {format_duration(seconds)}"
             + ("." if done else "; run the same command again to continue.")]
    frames = layout.grids()
    if frames:
      lines.append(f"  grid         {frames[-1][1]}  ({len(frames)} frames in {layout.samples})")
    lines.append(f"  checkpoints  {layout.checkpoints}")
    lines.append(f"  logs         tensorboard --logdir {shlex.quote(layout.logs)}")
    if tf.io.gfile.exists(layout.metrics):
      lines.append(f"  metrics      {layout.metrics}")
    python = os.path.basename(sys.executable) or "python3"
    main = f"{python} -m cgan_tf.main --run_dir={shlex.quote(run_dir)}"
    sampled = shlex.quote(layout.sampled)
    lines.append("Next:")
    if data_lib.kind_of(self.config) == "points":  # Neither measured nor served.
      lines.append(f"  sample    {main} --mode=sample --output_dir={sampled}")
    else:
      label = "--label=-1 " if self.config.num_classes else ""
      lines += [
          f"  sample    {main} --mode=sample {label}--output_dir={sampled}",
          f"  evaluate  {main} --mode=eval",
          f"  export    {main} --mode=export --export_dir={shlex.quote(layout.exports)}",
      ]
    lines.append(f"  gallery   {python} tools/make_gallery.py --run_dir={shlex.quote(run_dir)}")
    return "\n".join(lines)
