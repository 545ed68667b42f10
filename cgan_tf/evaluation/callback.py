"""Measuring during training: every `--eval_every` steps, TensorBoard eval/*, metrics.jsonl, the best
checkpoint by Fréchet distance."""

import json
import time

from absl import logging
import tensorflow as tf

from cgan_tf import callbacks
from cgan_tf import checkpoints
from cgan_tf import files
from cgan_tf.checkpoints import CheckpointError
from cgan_tf.config import Config
from cgan_tf.evaluation import metrics as metrics_lib
from cgan_tf.evaluation import report
from cgan_tf.run_dir import RunDir


class EvalCallback(callbacks.StepCallback):
  """Measures the generator being trained every `config.eval_every` steps and when training ends.

  Each measurement appends a line {"step", "time", "source": "generated", figures...} to
  `<output_dir>/metrics.jsonl` and writes the headline figures to TensorBoard under eval/. The real-data
  floor is measured once per process, appended as a "real_train" line and logged beside every
  measurement under eval_real/, so TensorBoard draws it as a line.

  Args:
    start_step, steps_per_execution: as `StepCallback`.
    config: the resolved run configuration.
    output_dir: where to write: the run directory on the chief, a throwaway directory elsewhere.
    writer: the run's TensorBoard summary writer.
    stop_request: the process's `preemption.StopRequest`, or None: once it is requested, a measurement
      under way is abandoned (the rerun makes it) and none is made at the end.
  """

  def __init__(self, start_step: int, steps_per_execution: int, config: Config, output_dir: str,
               writer, stop_request=None):
    super().__init__(start_step, steps_per_execution)
    self.stop_request = stop_request
    self.config = config
    self.every = config.eval_every
    self.output_dir = output_dir
    self.writer = writer
    layout = RunDir(output_dir)
    self.metrics_path = layout.metrics
    self.best_dir = layout.best
    self.best_path = layout.best_record
    self.measurement = None
    self.best_manager = None
    self.best_distance = float("inf")
    self.last_measured = None
    self.latest = None  # (step, headline figures) of the newest measurement, for the progress line.
    self.floor_logged = False
    self.paused_seconds = 0.0  # Time spent measuring: not training time for --train_minutes.
    # Other workers of a multi-worker run measure nothing: the figures would be the chief's, written to a
    # throwaway directory, and the generator call here involves no collective the chief waits for.
    self.is_chief = output_dir == config.run_dir

  def on_train_begin(self, logs=None):
    if not self.is_chief:
      return
    self._prepare()
    repaired = files.repair_jsonl(self.metrics_path)
    if repaired:
      logging.warning("%s: %s", self.metrics_path, repaired)
    if self.step > 0 and self.step % self.every == 0 and not self.measured(self.step):
      # The process that reached this step stopped (or was killed) before its measurement was written.
      logging.info("Step %d has no measurement in %s; measuring it before training on", self.step,
                   self.metrics_path)
      self.measure_or_abandon(self.step)

  def _prepare(self):
    # Loading the data and the evaluator (training it if the cache has none) happens once, up front,
    # rather than in the middle of the first interval.
    self.measurement = report.prepare(self.config, "train_eval_samples")
    if self.config.keep_best:
      # The weights that sample (the moving average if the run keeps one), under the name
      # `trained_run.load_generator(config, "best")` restores.
      self.best_manager = checkpoints.manager(tf.train.Checkpoint(generator=self.model.sampling_generator),
                                              self.best_dir, keep=1)
      if tf.io.gfile.exists(self.best_path):  # Resuming: only beat what an earlier process kept.
        with tf.io.gfile.GFile(self.best_path) as f:
          self.best_distance = json.load(f)["frechet_distance"]

  def measured(self, step: int) -> bool:
    """Whether metrics.jsonl holds a measurement of the generator at `step`."""
    if not tf.io.gfile.exists(self.metrics_path):
      return False
    with tf.io.gfile.GFile(self.metrics_path) as f:
      for line in f:
        try:
          record = json.loads(line)
        except ValueError:
          continue
        if isinstance(record, dict) and record.get("source") == "generated" and record.get("step") == step:
          return True
    return False

  def stopping(self) -> bool:
    return self.stop_request is not None and self.stop_request.requested

  def measure_or_abandon(self, step: int):
    """`measure(step)`, or None when training began stopping during it (nothing is written then)."""
    try:
      return self.measure(step)
    except report.Abandoned:
      logging.warning("The measurement of step %d was abandoned: training is stopping on %s; the rerun "
                      "measures this step first", step, self.stop_request.signal_name)
      return None

  def _append(self, record: dict) -> None:
    try:
      tf.io.gfile.makedirs(self.output_dir)
      with tf.io.gfile.GFile(self.metrics_path, "a") as f:
        f.write(json.dumps(record) + "\n")
    except (tf.errors.OpError, OSError) as e:
      raise CheckpointError(f"writing the measurement to {self.metrics_path} failed ({e}); training stopped. "
                            f"Checkpoints are intact; rerun the same command to resume.") from e

  def measure(self, step: int) -> dict:
    """Measures the generator now; logs, appends and keeps the best. Returns the figures."""
    if self.measurement is None:
      self._prepare()
    start = time.time()
    floor = self.measurement.floor(self.stopping)
    if not self.floor_logged:
      self._append(dict(step=step, time=time.time(), source="real_train", **floor))
      self.floor_logged = True
    source = report.generator_source(self.model.sampling_generator, self.config, "training")
    figures = self.measurement.measure(source, self.stopping)
    seconds = time.time() - start
    self._append(dict(step=step, time=time.time(), source="generated", eval_seconds=round(seconds, 1),
                      **figures))
    with self.writer.as_default():
      for name in metrics_lib.headline():
        if name in figures:
          tf.summary.scalar(f"eval/{name}", figures[name], step=step)
          tf.summary.scalar(f"eval_real/{name}", floor[name], step=step)
    self.writer.flush()
    logging.info("Step %d, measured in %.0f s:\n%s", step, seconds, report.format_table(figures, floor))
    distance = figures.get("frechet_distance")
    if self.best_manager is not None and distance is not None and distance < self.best_distance:
      self.best_distance = distance
      self.best_manager.save(checkpoint_number=step)
      files.write_json_atomically(self.best_path, dict(step=step, **figures), indent=2)
      logging.info("Step %d is the best so far (Fréchet distance %.4f); kept in %s", step, distance,
                   self.best_dir)
    self.last_measured = step
    self.latest = (step, {name: figures[name] for name in metrics_lib.headline() if name in figures})
    self.paused_seconds += time.time() - start
    return figures

  def on_step_end(self, step, logs):
    if self.is_chief and step % self.every == 0 and not self.stopping():
      self.measure_or_abandon(step)

  def on_train_end(self, logs=None):
    # A run stopped by a signal has a grace period to spend on its checkpoint, not on a measurement.
    if self.is_chief and self.last_measured != self.step and not self.stopping():
      self.measure_or_abandon(self.step)
