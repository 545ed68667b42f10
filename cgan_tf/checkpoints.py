"""Checkpoints: what is saved, where, and resuming from the newest one that reads back."""

import os
import re
from typing import Optional, Sequence

from absl import logging
import tensorflow as tf

CHECKPOINT_SUBDIR = "checkpoints"
CHECKPOINT_NAME = "ckpt"
# The CheckpointManager's state file: which checkpoints exist, newest last.
STATE_FILE = "checkpoint"


class CheckpointError(RuntimeError):
  """No usable checkpoint could be read, or one could not be written."""


class NonFiniteError(RuntimeError):
  """A loss or a weight became NaN or infinite; the message names the step and the last good checkpoint."""


def checkpoint_dir(run_dir: str) -> str:
  return os.path.join(run_dir, CHECKPOINT_SUBDIR)


def rng_states(network) -> list:
  """The states of a network's Keras random-seed generators (e.g. Dropout's), in layer order.

  tf.train.Checkpoint does not save them through the Keras model (seen with Keras 3.15), so a resumed
  run would draw other dropout masks. They are listed by position, since their variable names carry a
  process-wide counter.
  """
  return [v for v in network.non_trainable_variables if v.path.endswith("seed_generator_state")]


def training_checkpoint(model) -> tf.train.Checkpoint:
  """Everything needed to continue training exactly: networks, optimizers, RNG states, the step, and the
  generator's moving average when the run keeps one."""
  objects = dict(generator=model.generator, discriminator=model.discriminator,
                 g_optimizer=model.g_optimizer, d_optimizer=model.d_optimizer,
                 step=model.step_counter,
                 generator_rng=rng_states(model.generator),
                 discriminator_rng=rng_states(model.discriminator))
  if model.ema_generator is not None:
    objects["ema_generator"] = model.ema_generator
  return tf.train.Checkpoint(**objects)


def manager(checkpoint: tf.train.Checkpoint, directory: str, keep: int) -> tf.train.CheckpointManager:
  return tf.train.CheckpointManager(checkpoint, directory, max_to_keep=keep, checkpoint_name=CHECKPOINT_NAME)


def non_finite_variables(variables: Sequence[tf.Variable]) -> list:
  """The paths (or names) of the floating-point variables that hold a NaN or an infinity.

  One host read per call, so it runs at checkpoint and export time, never every step.
  """
  floating = [v for v in variables if tf.as_dtype(v.dtype).is_floating]
  if not floating:
    return []
  finite = tf.stack([tf.reduce_all(tf.math.is_finite(tf.convert_to_tensor(v))) for v in floating]).numpy()
  return [getattr(v, "path", None) or v.name for v, ok in zip(floating, finite) if not ok]


def last_good_checkpoint(directory: str) -> str:
  """How an error message names the checkpoint a rerun would resume from."""
  path = None
  if tf.io.gfile.isdir(directory):
    try:
      path = tf.train.latest_checkpoint(directory)
    except ValueError:  # An empty state file.
      pass
    # A damaged state file names none: then the newest found by name.
    path = path or next(iter(_candidates(directory)), None)
  if path is None:
    return f"none yet in {directory} (a rerun starts from step 0)"
  return f"{path} (a rerun of the same command resumes from it)"


def _step_of(path: str) -> int:
  match = re.search(r"-(\d+)$", path)
  return int(match.group(1)) if match else -1


def _candidates(directory: str) -> list:
  """Every checkpoint in `directory`, newest step first: those the state file lists and those on disk.

  The state file is written after a checkpoint's own files, atomically. A checkpoint on disk but not
  listed is one whose save was interrupted between the two (or whose state file was damaged); it is
  still tried, since restoring it checks every tensor's checksum and falls back if one is bad.
  """
  state_path = os.path.join(directory, STATE_FILE)
  listed = []
  try:
    state = tf.train.get_checkpoint_state(directory)
  except ValueError:  # An empty state file; TF logs and ignores other unreadable ones (returns None).
    state = None
  if state is not None:
    listed = list(state.all_model_checkpoint_paths)
  elif tf.io.gfile.exists(state_path):
    logging.warning("Checkpoint state file %s is unreadable; looking for checkpoints by name", state_path)
  pattern = os.path.join(directory, f"{CHECKPOINT_NAME}-*.index")
  on_disk = [path[:-len(".index")] for path in tf.io.gfile.glob(pattern)]
  by_path = {os.path.normpath(path): path for path in listed + on_disk}
  return sorted(by_path.values(), key=_step_of, reverse=True)


def repair_state_file(directory: str) -> None:
  """Sets aside an unreadable state file, which would stop `CheckpointManager` from being created.

  The checkpoints themselves stay; the next save writes a fresh state file.
  """
  state_path = os.path.join(directory, STATE_FILE)
  if not tf.io.gfile.exists(state_path):
    return
  try:
    readable = tf.train.get_checkpoint_state(directory) is not None
  except ValueError:
    readable = False
  if not readable:
    logging.warning("Setting the unreadable checkpoint state file %s aside as %s.unreadable", state_path,
                    state_path)
    tf.io.gfile.rename(state_path, state_path + ".unreadable", overwrite=True)


def restore_newest(checkpoint: tf.train.Checkpoint, directory: str, partial: bool = False
                   ) -> Optional[str]:
  """Restores the newest checkpoint in `directory` that reads back, skipping broken ones.

  Args:
    checkpoint: the objects to restore into.
    directory: a checkpoint directory written by a `CheckpointManager`.
    partial: allow the checkpoint to hold more objects than `checkpoint` (e.g. the generator alone).

  Returns:
    The path restored, or None when the directory holds no checkpoint.

  Raises:
    CheckpointError: when checkpoints exist but none of them can be read.
  """
  failures = []
  for path in _candidates(directory):
    try:
      status = checkpoint.restore(path)
      if partial:
        status.expect_partial()
      else:
        status.assert_existing_objects_matched()
      return path
    # A damaged file fails in many ways (OpError, ValueError, IndexError "Read less bytes than
    # requested" for a truncated one, ...); each means the same: try the next older checkpoint.
    except Exception as e:  # pylint: disable=broad-except
      logging.warning("Checkpoint %s cannot be restored, trying an older one: %s", path, e)
      failures.append(f"{path}: {type(e).__name__}")
  if failures:
    raise CheckpointError(f"no checkpoint in {directory} can be restored: {'; '.join(failures)}")
  return None
