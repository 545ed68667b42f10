"""Reading a trained run: its saved configuration, its newest or best generator, a checkpoint's step.

Every mode that works on a trained run (sample, export, eval, the tools) reads it through here, so they
agree on which weights a run serves; where its files are is `run_dir.RunDir`'s to say. Reading a run
changes nothing in the process: the generator is built in float32 under a policy that is set back after.
"""

from typing import Optional, Sequence, Tuple

import tensorflow as tf

from cgan_tf import checkpoints
from cgan_tf import distribute
from cgan_tf import networks
from cgan_tf.config import Config, ConfigError
from cgan_tf.registry import Registry
from cgan_tf.run_dir import RunDir

GENERATORS = Registry("generator of a run", {
    "newest": "the newest readable training checkpoint's (its moving average when the run keeps one)",
    "best": "the one --keep_best kept: the lowest Fréchet distance measured during training",
})
# --export_source: one of GENERATORS, or "auto": the best one when the run kept one, else the newest.
EXPORT_SOURCES = Registry("export source", {"auto": "best when the run kept one, else newest", **GENERATORS})
# The invocation's flags that win over the ones saved with the run, per mode that reads a run.
SAMPLE_FIELDS = ("label", "num_images", "output_dir", "interpolate", "truncation")
EXPORT_FIELDS = ("export_dir", "model_name", "export_version", "export_next_free_version", "max_batch",
                 "export_source")
EVAL_FIELDS = ("evaluator_dir", "evaluator_epochs", "eval_samples", "eval_metrics", "eval_seed",
               "eval_source", "eval_report", "cas_epochs", "verbose", "truncation")
# Checkpoint key of the training step (`step=` in checkpoints.training_checkpoint).
STEP_KEY = "step/.ATTRIBUTES/VARIABLE_VALUE"


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
  saved = RunDir(config.run_dir).saved_config()
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
  with distribute.precision_scope("float32"):
    generator, _ = networks.build_networks(config)
  if which == "newest":
    directory = directory or RunDir(config.run_dir).checkpoints
    # Restored under the name the training checkpoint gives the weights that sample.
    key = "ema_generator" if config.ema_decay else "generator"
    missing = f"--run_dir: {config.run_dir} holds no checkpoint in {directory}; train first"
  else:
    directory = directory or RunDir(config.run_dir).best
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
  return "best" if tf.train.latest_checkpoint(RunDir(config.run_dir).best) else "newest"


def checkpoint_step(checkpoint_path: str) -> Optional[int]:
  """The training step of a checkpoint: the step it stores, else the <name>-<step> suffix, else None."""
  reader = tf.train.load_checkpoint(checkpoint_path)
  if reader.has_tensor(STEP_KEY):
    return int(reader.get_tensor(STEP_KEY))
  return checkpoints.step_in_name(checkpoint_path)
