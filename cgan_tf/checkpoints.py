"""Checkpoints: what is saved, where, and resuming from the newest one that reads back."""

import os
import re
from typing import Optional, Sequence

from absl import logging
import tensorflow as tf

from cgan_tf import loss_scale

# A checkpoint's name in its directory (`run_dir.RunDir.checkpoints`): ckpt-<step>.
CHECKPOINT_NAME = "ckpt"
# The CheckpointManager's state file: which checkpoints exist, newest last.
STATE_FILE = "checkpoint"


class CheckpointError(RuntimeError):
  """No usable checkpoint could be read, or one could not be written."""


class NonFiniteError(RuntimeError):
  """A loss or a weight became NaN or infinite; the message names the step and the last good checkpoint."""


def rng_states(network) -> list:
  """The states of a network's Keras random-seed generators (e.g. Dropout's), in layer order.

  tf.train.Checkpoint does not save them through the Keras model (seen with Keras 3.15), so a resumed
  run would draw other dropout masks. They are listed by position, since their variable names carry a
  process-wide counter.
  """
  return [v for v in network.non_trainable_variables if v.path.endswith("seed_generator_state")]


# Key suffix of a network's loss scale (dynamic scale and growth counter), saved beside its optimizer.
LOSS_SCALE_SUFFIX = "_loss_scale"


def _optimizers(model) -> dict:
  """Each optimizer of the model by its checkpoint key."""
  return {"g_optimizer": model.g_optimizer, "d_optimizer": model.d_optimizer}


def _training_objects(model) -> dict:
  """The objects of a training checkpoint, by key.

  Each optimizer is saved as the optimizer that updates the weights, and a loss scale (mixed_float16
  only) under its own key beside it, so one layout serves every precision and a run can continue under
  another one: the weights and the optimizers' moments carry over, the loss scale starts afresh.
  """
  objects = dict(generator=model.generator, discriminator=model.discriminator, step=model.step_counter,
                 generator_rng=rng_states(model.generator),
                 discriminator_rng=rng_states(model.discriminator))
  for key, optimizer in _optimizers(model).items():
    objects[key] = loss_scale.inner(optimizer)
    if loss_scale.is_scaled(optimizer):
      objects[key + LOSS_SCALE_SUFFIX] = tf.train.Checkpoint(scale=optimizer.dynamic_scale,
                                                             growth_counter=optimizer.step_counter)
  if model.ema_generator is not None:
    objects["ema_generator"] = model.ema_generator
  return objects


def training_checkpoint(model) -> tf.train.Checkpoint:
  """Everything needed to continue training exactly: networks, optimizers (and loss scales), RNG states,
  the step, and the generator's moving average when the run keeps one."""
  return tf.train.Checkpoint(**_training_objects(model))


def _restore_objects(model, path: str):
  """The objects to restore `path` into and what changed since it was written (None: nothing).

  Handles a checkpoint written under another precision: without loss scales (float32, bfloat16) into
  a mixed_float16 run, which starts a fresh scale; with them into a run without, which drops them; and
  the layout of earlier versions, which saved a loss-scale optimizer whole under the optimizer's key.
  """
  keys = [name for name, _ in tf.train.list_variables(path)]
  objects = _training_objects(model)
  scaled_now = loss_scale.is_scaled(model.g_optimizer)
  saved_scale = any(key.startswith("g_optimizer" + LOSS_SCALE_SUFFIX + "/") for key in keys)
  saved_wrapped = any(key.startswith("g_optimizer/inner_optimizer/") for key in keys)
  if saved_wrapped:
    for key, optimizer in _optimizers(model).items():
      objects.pop(key + LOSS_SCALE_SUFFIX, None)
      # A checkpoint of the earlier layout restores whole into a loss-scale optimizer; into a plain one,
      # only the wrapped optimizer's state is taken.
      objects[key] = optimizer if scaled_now else tf.train.Checkpoint(inner_optimizer=optimizer)
    saved_scale = True
  if saved_scale == scaled_now:
    return objects, None
  if scaled_now:
    for key in _optimizers(model):
      objects.pop(key + LOSS_SCALE_SUFFIX)
    return objects, ("it was written without loss scaling (float32 or mixed_bfloat16); the weights and the "
                     "optimizers' state continue under mixed_float16 with a fresh loss scale")
  return objects, ("it was written under mixed_float16; the weights and the optimizers' state continue "
                   "without its loss scale")


def _check_weight_dtypes(model, path: str, precision: str) -> None:
  """Refuses a checkpoint whose weights are in another dtype (float64 vs float32) than the run's.

  Mixed policies keep float32 weights, so float32, mixed_float16 and mixed_bfloat16 runs continue one
  another; float64 weights (the numerical checks' precision) cannot continue in float32 or back without
  changing the trained values.

  Raises:
    CheckpointError: naming --precision, the checkpoint's weight dtype and what to do.
  """
  saved = tf.train.load_checkpoint(path).get_variable_to_dtype_map()
  # A checkpoint stores each variable once, under the first path that reaches it; the networks' weights
  # are reached through their optimizers' lists of the variables they train.
  saved_float = {dtype.name for name, dtype in saved.items()
                 if re.search(r"_trainable_variables/\d+/\.ATTRIBUTES/VARIABLE_VALUE$", name) and dtype.is_floating}
  wanted = {tf.as_dtype(v.dtype).name for v in model.generator.trainable_variables}
  if saved_float and wanted and saved_float != wanted:
    raise CheckpointError(
        f"--precision={precision}: the checkpoint {path} holds {'/'.join(sorted(saved_float))} weights, and "
        f"this precision trains {'/'.join(sorted(wanted))} weights; resume with the precision the run was "
        f"started with (float64 runs continue only in float64), or start a new --run_dir")


def restore_training(model, directory: str, precision: str) -> Optional[str]:
  """Restores the newest readable training checkpoint in `directory` into `model`.

  A checkpoint written under another precision continues under this one (see `_restore_objects`); the
  log says what changed.

  Returns:
    The path restored, or None when the directory holds no checkpoint.

  Raises:
    CheckpointError: when checkpoints exist but none can be read, or their weights' dtype cannot
      continue under `precision` (checked before anything is restored).
  """
  candidates = _candidates(directory)
  if candidates:
    try:
      _check_weight_dtypes(model, candidates[0], precision)
    except (tf.errors.OpError, ValueError):
      pass  # An unreadable newest checkpoint: the loop below falls back to an older one.
  notes = {}

  def restore(path):
    objects, notes[path] = _restore_objects(model, path)
    status = tf.train.Checkpoint(**objects).restore(path)
    if notes[path]:
      status.expect_partial()
    status.assert_existing_objects_matched()

  path = _restore_first_readable(directory, restore)
  if path and notes.get(path):
    logging.info("Precision change on resume from %s: %s", path, notes[path])
  return path


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


def step_in_name(path: str) -> Optional[int]:
  """The step in a checkpoint's name (<name>-<step>, as `CheckpointManager` names them), or None."""
  match = re.search(r"-(\d+)$", path)
  return int(match.group(1)) if match else None


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
  return sorted(by_path.values(), key=lambda path: -1 if step_in_name(path) is None else step_in_name(path),
                reverse=True)


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


def _restore_first_readable(directory: str, restore) -> Optional[str]:
  """Calls `restore(path)` on each checkpoint in `directory`, newest first, until one succeeds.

  Returns:
    The path restored, or None when the directory holds no checkpoint.

  Raises:
    CheckpointError: when checkpoints exist but none of them can be read.
  """
  failures = []
  for path in _candidates(directory):
    try:
      restore(path)
      return path
    # A damaged file fails in many ways (OpError, ValueError, IndexError "Read less bytes than
    # requested" for a truncated one, ...); each means the same: try the next older checkpoint.
    except Exception as e:  # pylint: disable=broad-except
      logging.warning("Checkpoint %s cannot be restored, trying an older one: %s", path, e)
      failures.append(f"{path}: {type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}")
  if failures:
    raise CheckpointError(f"no checkpoint in {directory} can be restored: {'; '.join(failures)}")
  return None


def restore_newest(checkpoint: tf.train.Checkpoint, directory: str, partial: bool = False
                   ) -> Optional[str]:
  """Restores the newest checkpoint in `directory` that reads back into `checkpoint`, skipping broken ones.

  Args:
    checkpoint: the objects to restore into.
    directory: a checkpoint directory written by a `CheckpointManager`.
    partial: allow the checkpoint to hold more objects than `checkpoint` (e.g. the generator alone).

  Returns:
    The path restored, or None when the directory holds no checkpoint.

  Raises:
    CheckpointError: when checkpoints exist but none of them can be read.
  """

  def restore(path):
    status = checkpoint.restore(path)
    if partial:
      status.expect_partial()
    else:
      status.assert_existing_objects_matched()

  return _restore_first_readable(directory, restore)
