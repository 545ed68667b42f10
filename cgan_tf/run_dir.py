"""The run directory's layout: the one place that names every file and folder a run holds.

  <run_dir>/config.json            the resolved configuration (`RunDir.save_config`)
  <run_dir>/train.lock             held by the one training process that writes the directory, and naming
                                     it (`run_lock`)
  <run_dir>/checkpoints/ckpt-<n>   training checkpoints, the newest by step
  <run_dir>/samples/grid_<n>.png   the fixed grid (every class x fixed noise) over training
  <run_dir>/logs/                  TensorBoard event files
  <run_dir>/metrics.jsonl          with --eval_every: one JSON line per measurement
  <run_dir>/best/                  with --keep_best: the generator with the lowest Fréchet distance so far,
  <run_dir>/best/best.json           and which step it is
  <run_dir>/eval_report.json       --mode=eval's report
  <run_dir>/points_report.json     a points GAN's real vs generated statistics,
  <run_dir>/scatter.png              and its scatter plot
  <run_dir>/gallery/               tools/make_gallery.py's grid and animation
  <run_dir>/sampled/, export/      where the closing summary suggests --mode=sample and --mode=export write

Writers and readers (training, callbacks, export, evaluation, the tools) ask a `RunDir` for these paths
instead of spelling them; the configuration is read and written here too, since its file is part of the
layout.
"""

import dataclasses
import os
import re
from typing import List, Optional, Tuple

import tensorflow as tf

from cgan_tf import files
from cgan_tf.config import Config, ConfigError

CONFIG_FILE = "config.json"
# Locked (flock) by the training process for its life; never deleted, since a trainer that opened it just
# before a deletion would lock a file nobody else can see.
LOCK_FILE = "train.lock"
CHECKPOINTS = "checkpoints"
SAMPLES = "samples"
LOGS = "logs"
METRICS_FILE = "metrics.jsonl"
BEST = "best"
BEST_FILE = "best.json"
EVAL_REPORT_FILE = "eval_report.json"
POINTS_REPORT_FILE = "points_report.json"
SCATTER_FILE = "scatter.png"
GALLERY = "gallery"
SAMPLED = "sampled"
# A file a new run writes and removes at once, to learn that the directory is writable.
WRITE_PROBE = ".write_test"
EXPORTS = "export"
# A progress frame's name: its step zero-padded to 8 digits, so the files sort in training order.
GRID_PATTERN = re.compile(r"grid_(\d+)\.png")


def grid_filename(step: int) -> str:
  """The progress frame of `step` (in `RunDir.samples`)."""
  return f"grid_{step:08d}.png"


@dataclasses.dataclass(frozen=True)
class RunDir:
  """The paths of one run directory. Naming a path creates nothing.

  Attributes:
    path: the run directory itself (--run_dir).
  """

  path: str

  def _join(self, *names: str) -> str:
    return os.path.join(self.path, *names)

  @property
  def config(self) -> str:
    return self._join(CONFIG_FILE)

  @property
  def lock(self) -> str:
    return self._join(LOCK_FILE)

  @property
  def checkpoints(self) -> str:
    return self._join(CHECKPOINTS)

  @property
  def samples(self) -> str:
    return self._join(SAMPLES)

  @property
  def logs(self) -> str:
    return self._join(LOGS)

  @property
  def metrics(self) -> str:
    return self._join(METRICS_FILE)

  @property
  def best(self) -> str:
    return self._join(BEST)

  @property
  def best_record(self) -> str:
    return self._join(BEST, BEST_FILE)

  @property
  def eval_report(self) -> str:
    return self._join(EVAL_REPORT_FILE)

  @property
  def points_report(self) -> str:
    return self._join(POINTS_REPORT_FILE)

  @property
  def scatter(self) -> str:
    return self._join(SCATTER_FILE)

  @property
  def gallery(self) -> str:
    return self._join(GALLERY)

  @property
  def write_probe(self) -> str:
    return self._join(WRITE_PROBE)

  @property
  def sampled(self) -> str:
    return self._join(SAMPLED)

  @property
  def exports(self) -> str:
    return self._join(EXPORTS)

  def grid(self, step: int) -> str:
    """The progress frame of `step`."""
    return os.path.join(self.samples, grid_filename(step))

  def grids(self) -> List[Tuple[int, str]]:
    """The progress frames on disk as [(step, path)], in training order."""
    return grid_files(self.samples)

  def saved_config(self) -> Optional[Config]:
    """The configuration this directory's run was made with, or None when it holds none (a new run).

    Raises:
      ConfigError: naming the file, when config.json exists but is not a readable cgan_tf configuration.
    """
    path = self.config
    if not tf.io.gfile.exists(path):
      return None
    way_out = (f"restore it from a copy, or delete it to let the next run write it again (the "
               f"checkpoints in {self.checkpoints} stay)")
    if tf.io.gfile.isdir(path):
      raise ConfigError(f"--run_dir: {path} is a directory, not the run's configuration file; {way_out}")
    try:
      with tf.io.gfile.GFile(path, "rb") as f:
        return Config.from_json(f.read().decode("utf-8"))
    except (UnicodeDecodeError, ValueError, TypeError, tf.errors.OpError) as e:
      # ValueError covers malformed JSON and ConfigError (a valid JSON value that is no configuration).
      raise ConfigError(f"--run_dir: {path} is not a valid cgan_tf configuration ({e}); {way_out}") from e

  def save_config(self, config: Config) -> None:
    """Writes the resolved configuration atomically (a crash never leaves a half-written file)."""
    files.write_atomically(self.config, config.to_json())


def grid_files(directory: str) -> List[Tuple[int, str]]:
  """The progress frames in `directory` (a run's samples/, or a copy of it) as [(step, path)], in order."""
  found = []
  for path in tf.io.gfile.glob(os.path.join(directory, "grid_*.png")):
    match = GRID_PATTERN.fullmatch(os.path.basename(path))
    if match:
      found.append((int(match.group(1)), path))
  return sorted(found)
