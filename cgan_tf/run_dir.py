"""Reading a run directory: its saved configuration, its newest or best generator, a checkpoint's step.

Every mode that works on a trained run (sample, export, eval, the tools) reads it through here, so they
agree on what a run directory holds:

  <run_dir>/config.json     the resolved configuration (`config.save`)
  <run_dir>/checkpoints/    training checkpoints (`checkpoints.training_checkpoint`), newest by step
  <run_dir>/best/           with --keep_best: the generator with the lowest Fréchet distance so far
"""

import os
from typing import Optional, Sequence, Tuple

import tensorflow as tf

from cgan_tf import checkpoints
from cgan_tf import config as config_lib
from cgan_tf import distribute
from cgan_tf import networks
from cgan_tf.config import Config, ConfigError

BEST_SUBDIR = "best"
GENERATORS = ("newest", "best")
# --export_source: one of GENERATORS, or "auto": the best one when the run kept one, else the newest.
EXPORT_SOURCES = ("auto",) + GENERATORS
# The invocation's flags that win over the ones saved with the run, per mode that reads a run.
SAMPLE_FIELDS = ("label", "num_images", "output_dir", "interpolate", "truncation")
EXPORT_FIELDS = ("export_dir", "model_name", "export_version", "export_next_free_version", "max_batch",
                 "export_source")
EVAL_FIELDS = ("evaluator_dir", "evaluator_epochs", "eval_samples", "eval_metrics", "eval_seed",
               "eval_source", "eval_report", "cas_epochs", "verbose")
# Checkpoint key of the training step (`step=` in checkpoints.training_checkpoint).
STEP_KEY = "step/.ATTRIBUTES/VARIABLE_VALUE"


def best_dir(run_dir: str) -> str:
  """Where --keep_best keeps the best generator of a run."""
  return os.path.join(run_dir, BEST_SUBDIR)


def load_run_config(config: Config, fields: Sequence[str] = SAMPLE_FIELDS, required: bool = True
                    ) -> Optional[Config]:
  """The configuration the run in --run_dir was trained with, carrying this invocation's mode and `fields`.

  Args:
    config: this invocation's configuration (its run_dir names the run).
    fields: the invocation's flags that replace the saved ones (e.g. SAMPLE_FIELDS).
    required: raise when the directory holds no run; else return None.

  Raises:
    ConfigError: if `required` and the directory holds no config.json.
  """
  saved = config_lib.load_saved(config.run_dir)
  if saved is None:
    if not required:
      return None
    raise ConfigError(f"--run_dir: {config.run_dir} holds no trained run (no config.json); train first")
  return saved.replace(mode=config.mode, run_dir=config.run_dir,
                       **{name: getattr(config, name) for name in fields})


def weights_name(config: Config, which: str = "newest") -> str:
  """Which weights `load_generator(config, which)` serves, for logs and the export's metadata."""
  name = f"ema_generator (decay {config.ema_decay})" if config.ema_decay else "generator"
  return f"{name}, the lowest Fréchet distance measured (--keep_best)" if which == "best" else name


def load_generator(config: Config, which: str = "newest", directory: str = None) -> Tuple[object, str]:
  """Builds the run's generator in float32 and restores it from a checkpoint.

  Args:
    config: the run's configuration (from `load_run_config`).
    which: "newest": the newest readable training checkpoint, its moving average of the generator when the
      run keeps one (--ema_decay), else the generator itself. "best": the checkpoint --keep_best kept.
    directory: the checkpoint directory (default: the run's checkpoints/ or best/).

  Returns:
    (generator, checkpoint path).

  Raises:
    ConfigError: if the directory holds no checkpoint.
    ValueError: for an unknown `which`.
  """
  if which not in GENERATORS:
    raise ValueError(f"which must be one of {', '.join(GENERATORS)}, got {which!r}")
  distribute.set_precision("float32")
  generator, _ = networks.build_networks(config)
  if which == "newest":
    directory = directory or checkpoints.checkpoint_dir(config.run_dir)
    # Restored under the name the training checkpoint gives the weights that sample.
    key = "ema_generator" if config.ema_decay else "generator"
    missing = f"--run_dir: {config.run_dir} holds no checkpoint in {directory}; train first"
  else:
    directory = directory or best_dir(config.run_dir)
    key = "generator"  # The best checkpoint holds the weights that sample under this name (evaluation/callback).
    missing = f"the best generator: {directory} holds no checkpoint; train with --keep_best"
  path = checkpoints.restore_newest(tf.train.Checkpoint(**{key: generator}), directory, partial=True)
  if path is None:
    raise ConfigError(missing)
  return generator, path


def resolve_generator(config: Config, which: str) -> str:
  """`which` of EXPORT_SOURCES as one of GENERATORS: "auto" is "best" when the run kept a best checkpoint."""
  if which != "auto":
    return which
  return "best" if tf.train.latest_checkpoint(best_dir(config.run_dir)) else "newest"


def checkpoint_step(checkpoint_path: str) -> Optional[int]:
  """The training step of a checkpoint: the step it stores, else the <name>-<step> suffix, else None."""
  reader = tf.train.load_checkpoint(checkpoint_path)
  if reader.has_tensor(STEP_KEY):
    return int(reader.get_tensor(STEP_KEY))
  return checkpoints.step_in_name(checkpoint_path)
