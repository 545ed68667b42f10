"""Training: builds data, networks and optimizers under the strategy, resumes, and runs `fit`."""

import contextlib
import math
import os

from absl import logging
import keras
import numpy as np
import tensorflow as tf

from cgan_tf import callbacks as callbacks_lib
from cgan_tf import checkpoints
from cgan_tf import data as data_lib
from cgan_tf import distribute
from cgan_tf import gan
from cgan_tf import loss_scale
from cgan_tf import networks
from cgan_tf import points_report
from cgan_tf import preemption
from cgan_tf import resume
from cgan_tf import run_lock
from cgan_tf import samples
from cgan_tf import schedules
from cgan_tf import validation
from cgan_tf.config import Config, ConfigError
from cgan_tf.data import pipeline
from cgan_tf.evaluation.callback import EvalCallback
from cgan_tf.optimizers import OPTIMIZERS
from cgan_tf.run_dir import RunDir


class WorkerLostError(RuntimeError):
  """A multi-worker job lost a peer (it died, or stopped answering for the collective timeout)."""


def make_optimizer(learning_rate, config: Config, precision: str):
  """The configured optimizer, wrapped in a loss-scale optimizer under mixed_float16.

  Args:
    learning_rate: a float, or a schedule of the optimizer's update count (`schedules.learning_rate`).
    config: the configuration (which optimizer, its betas).
    precision: the resolved precision.
  """
  return loss_scale.wrap(OPTIMIZERS[config.optimizer](learning_rate, config), precision)


def step_options(config: Config) -> gan.StepOptions:
  """How the configured run trains each step."""
  return gan.StepOptions(loss=config.loss, update_scheme=config.update_scheme, d_steps=config.d_steps,
                         gp_weight=config.gp_weight, r1_gamma=config.r1_gamma, r1_every=config.r1_every,
                         augment=config.diffaugment_policies, ema_decay=config.ema_decay,
                         ema_start=config.ema_start, noise=config.noise, mode_seeking=config.mode_seeking)


def has_batch_normalization(*models) -> bool:
  return any(isinstance(layer, keras.layers.BatchNormalization)
             for model in models for layer in model._flatten_layers(include_self=False))


def build_gan(config: Config, precision: str, xla_plan: str, total_steps: int = 0) -> gan.ConditionalGAN:
  """Builds the networks, optimizers and GAN model. Call inside `strategy.scope()`.

  Args:
    config: the resolved configuration.
    precision: the resolved precision.
    xla_plan: how XLA is used (see `distribute.resolve_xla`).
    total_steps: the run's length in train steps, over which --lr_schedule decays (needed only then).

  Raises:
    ConfigError: for --xla=on with several replicas and a network with batch normalization.
  """
  generator, discriminator = networks.build_networks(config)
  if xla_plan == distribute.XLA_PER_REPLICA and has_batch_normalization(generator, discriminator):
    # Synchronized batch statistics are an all-reduce, which cannot run inside one replica's compiled
    # function, and Keras refuses to compile the whole step under a tf.distribute strategy.
    if config.xla == "on":
      raise ConfigError(f"--xla=on: network {config.network!r} uses batch normalization, whose statistics are "
                        f"synchronized over the replicas and cannot be compiled per replica; use --xla=off "
                        f"or one replica")
    logging.info("XLA: batch normalization synchronizes over the replicas -> off")
    xla_plan = distribute.XLA_OFF
  ema_generator = None
  if config.ema_decay:
    ema_generator, _ = networks.build_networks(config)
    ema_generator.set_weights(generator.get_weights())
  # Each schedule counts its own optimizer's updates: D updates d_steps times per train step.
  d_optimizer = make_optimizer(schedules.learning_rate(config.d_learning_rate, config.lr_schedule,
                                                       total_steps * config.d_steps), config, precision)
  g_optimizer = make_optimizer(schedules.learning_rate(config.g_learning_rate, config.lr_schedule, total_steps),
                               config, precision)
  # Build the optimizer state now, in the scope: Keras 3.15 building it lazily inside fit under a
  # strategy fails ("You must feed a value for placeholder tensor").
  d_optimizer.build(discriminator.trainable_variables)
  g_optimizer.build(generator.trainable_variables)
  model = gan.ConditionalGAN(generator, discriminator, config.latent_dim, config.num_classes,
                             config.batch_size, config.seed, ema_generator=ema_generator)
  model.compile(d_optimizer=d_optimizer, g_optimizer=g_optimizer, options=step_options(config),
                xla_plan=xla_plan, steps_per_execution=config.steps_per_execution)
  return model


def apply_learning_rates(model: gan.ConditionalGAN, config: Config) -> None:
  """Sets the optimizers' learning rates from the flags after a restore.

  The checkpoint holds the rates it was trained with; without this a run resumed with lower
  --g_learning_rate/--d_learning_rate (the way out of a diverged run) would silently keep the old ones.
  A --lr_schedule is not in the checkpoint: it was just built from the flags' peaks and evaluates at the
  restored update count, so a lower peak already applies.
  """
  if config.lr_schedule != "constant":
    return
  for flag, optimizer, rate in (("g_learning_rate", model.g_optimizer, config.g_learning_rate),
                                ("d_learning_rate", model.d_optimizer, config.d_learning_rate)):
    saved = float(tf.convert_to_tensor(optimizer.learning_rate))
    if np.float32(saved) != np.float32(rate):
      logging.info("--%s=%g replaces the checkpoint's %g", flag, rate, saved)
      optimizer.learning_rate = rate


def make_run_dir(config: Config) -> None:
  """Creates the run directory (nothing inside it yet).

  Raises:
    ConfigError: naming --run_dir when it cannot be created.
  """
  try:
    tf.io.gfile.makedirs(config.run_dir)
  except (tf.errors.OpError, OSError) as e:
    raise ConfigError(f"--run_dir: {config.run_dir} is not writable ({e})") from e


def check_writable(config: Config) -> None:
  """Proves the run directory writable before any training, by writing and removing a probe file.

  Raises:
    ConfigError: naming --run_dir.
  """
  probe = RunDir(config.run_dir).write_probe
  try:
    with tf.io.gfile.GFile(probe, "w") as f:
      f.write("ok")
    tf.io.gfile.remove(probe)
  except (tf.errors.OpError, OSError) as e:
    raise ConfigError(f"--run_dir: {config.run_dir} is not writable ({e})") from e


def resolve_training_config(config: Config):
  """Loads the data set and fills the config's data-dependent fields; returns (config, data)."""
  data = data_lib.load(config, "train")
  config = data_lib.resolve(config, data)
  validation.check_architecture(config)
  return config, data


def total_steps(config: Config, num_examples: int) -> int:
  """The run's length in train steps: --train_steps, else --epochs passes over the data, else
  --train_images real images (each step shows D d_steps batches), rounded up to a whole number of
  --steps_per_execution calls, so every step a checkpoint, grid or measurement names is one that trains.

  Raises:
    ConfigError: if a global batch is larger than the data set.
  """
  examples_per_step = pipeline.examples_per_step(config.batch_size, config.d_steps)
  steps_per_epoch = pipeline.steps_per_epoch(num_examples, examples_per_step)
  if config.train_steps:
    return config.train_steps  # A multiple of --steps_per_execution (validation checks it).
  if config.epochs:
    steps, length = config.epochs * steps_per_epoch, f"--epochs={config.epochs} ({steps_per_epoch} steps each)"
  else:
    steps, length = math.ceil(config.train_images / examples_per_step), f"--train_images={config.train_images}"
  calls = config.steps_per_execution
  aligned = math.ceil(steps / calls) * calls
  if aligned != steps:
    logging.info("Length: %s is %d steps, rounded up to %d, a whole number of --steps_per_execution=%d calls",
                 length, steps, aligned, calls)
  return aligned


def train(config: Config, extra_callbacks=()) -> gan.ConditionalGAN:
  """Trains (or resumes) the run in `config.run_dir` up to the configured number of steps.

  The training process holds the run directory's lock throughout (`run_lock`), and writes nothing there
  before the run is known to continue: config.json and everything else only after the resume checks and
  the restore succeeded. SIGTERM and SIGINT stop it after the step in flight, saved (`preemption`).

  Args:
    config: the validated configuration.
    extra_callbacks: more Keras callbacks for `fit` (e.g. the benchmark's step timer).

  Returns:
    The trained model.

  Raises:
    ConfigError, data.DataError: for invalid settings or data, before anything is trained or written;
      run_lock.RunDirBusyError (a ConfigError) when another process trains in the directory.
    checkpoints.CheckpointError: when the run directory's checkpoints cannot be restored.
    preemption.TrainingStopped: when a signal stopped training; its step is checkpointed.
  """
  with preemption.StopRequest() as request:
    try:
      return _train(config, extra_callbacks, request)
    except preemption.StopRequested as e:
      raise preemption.TrainingStopped(
          f"Stopped by {e} before the first train step of this process: nothing was trained, so there was "
          f"nothing to save. The same command resumes the run.", None, str(e)) from None


def _train(config: Config, extra_callbacks, request: preemption.StopRequest) -> gan.ConditionalGAN:
  strategy = distribute.create_strategy(config)
  request.install()  # Over the SIGTERM handler a multi-worker runtime sets when it starts.
  if config.batch_size % strategy.num_replicas_in_sync:
    raise ConfigError(f"--batch_size: the global batch {config.batch_size} is not divisible by the "
                      f"{strategy.num_replicas_in_sync} replicas of this strategy")
  per_replica = config.batch_size // strategy.num_replicas_in_sync
  if config.d_minibatch_std and per_replica % config.d_minibatch_std:
    raise ConfigError(f"--d_minibatch_std: each of the {strategy.num_replicas_in_sync} replicas takes {per_replica} "
                      f"examples of the batch, which are not whole groups of {config.d_minibatch_std}")
  if config.mode_seeking and per_replica % 2:
    raise ConfigError(f"--mode_seeking: each of the {strategy.num_replicas_in_sync} replicas takes {per_replica} "
                      f"examples of the batch, which are not whole pairs of one label")
  output_dir = distribute.writable_dir(strategy, config.run_dir)
  is_chief = output_dir == config.run_dir
  with contextlib.ExitStack() as held:
    saved = None
    if is_chief:
      make_run_dir(config)
      # Before anything else in the directory is read or written, and before the data is loaded, so a
      # second trainer is turned away at once.
      held.enter_context(run_lock.RunLock(config.run_dir))
      check_writable(config)
      saved = RunDir(config.run_dir).saved_config()
    return _train_locked(config, saved, strategy, output_dir, extra_callbacks, request)


def _train_locked(config: Config, saved, strategy, output_dir: str, extra_callbacks,
                  request: preemption.StopRequest) -> gan.ConditionalGAN:
  config, data = resolve_training_config(config)
  changes = resume.check_resumable(saved, config) if saved is not None else []
  precision, why = distribute.choose_precision(config)
  logging.info("Precision: %s (%s)", precision, why)
  distribute.set_precision(precision)
  xla_plan = distribute.resolve_xla(config, strategy)
  if config.deterministic:
    tf.config.experimental.enable_op_determinism()
  keras.utils.set_random_seed(config.seed)
  logging.info("Training on %s (%s), %d replica(s), precision %s, %d examples of shape %s, %d classes",
               data.origin, type(strategy).__name__, strategy.num_replicas_in_sync, precision,
               len(data.labels), config.image_shape, config.num_classes)

  total = total_steps(config, len(data.labels))
  with strategy.scope():
    model = build_gan(config, precision, xla_plan, total)
  is_chief = output_dir == config.run_dir
  run_files, outputs = RunDir(config.run_dir), RunDir(output_dir)
  try:
    restored = checkpoints.restore_training(model, run_files.checkpoints, precision)
  except checkpoints.CheckpointError as e:
    if is_chief and saved is None:
      raise checkpoints.CheckpointError(
          f"{e}. {run_files.config} is missing, so this run's flags could not be checked against the ones "
          f"the checkpoints were trained with: rerun with those (--network, the widths, --optimizer, "
          f"--precision, ...), or use a new --run_dir") from e
    raise
  checkpoint = checkpoints.training_checkpoint(model)
  start_step = int(model.step_counter.numpy())
  if restored:
    logging.info("Resumed from %s at step %d", restored, start_step)
    if changes:
      logging.info("Resuming with changes since %s was written: %s", run_files.config,
                   resume.describe_changes(changes))
    apply_learning_rates(model, config)

  examples_per_step = pipeline.examples_per_step(config.batch_size, config.d_steps)
  if start_step >= total:
    logging.info("Run in %s is already at step %d of %d; nothing to train", config.run_dir, start_step,
                 total)
    return model
  if (total - start_step) % config.steps_per_execution:
    # Each call trains steps_per_execution steps: from this step the run would pass its last step.
    raise ConfigError(f"--steps_per_execution: the run in {config.run_dir} resumes at step {start_step}, "
                      f"{total - start_step} steps before its end at {total}, which is not a whole number of "
                      f"calls of {config.steps_per_execution} steps; resume with a --steps_per_execution that "
                      f"divides {total - start_step} (1 always does)")

  # The run continues: from here on its directory is written.
  if is_chief:
    run_files.save_config(config)
  writer = tf.summary.create_file_writer(outputs.logs)
  # A damaged state file would stop the manager from being created; restore_training found the checkpoints
  # by name instead.
  checkpoints.repair_state_file(outputs.checkpoints)
  manager = checkpoints.manager(checkpoint, outputs.checkpoints, config.keep_checkpoints)
  step_args = (start_step, config.steps_per_execution)
  checkpointer = callbacks_lib.Checkpointer(*step_args, manager, config.checkpoint_every)
  multi_worker = isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
  callbacks = [
      # First, so a NaN step stops training before any writer sees it.
      callbacks_lib.NonFiniteGuard(*step_args, run_files.checkpoints),
      callbacks_lib.ScalarWriter(*step_args, config.log_every, writer, config=config),
      callbacks_lib.GridWriter(*step_args, config.sample_every, outputs.samples,
                               writer, samples.progress_renderer(config, data)),
      checkpointer,
      callbacks_lib.StopAtStep(*step_args, total),
  ]
  if config.eval_every > 0:  # Opt-in: each measurement costs an evaluator pass over eval_samples images.
    callbacks.append(EvalCallback(*step_args, config, output_dir, writer, stop_request=request))
  if config.train_minutes:
    callbacks.append(callbacks_lib.StopAfterTime(*step_args, config.train_minutes,
                                                 pausers=[c for c in callbacks if hasattr(c, "paused_seconds")]))
  # After every writer, so its closing summary sees the final grid and checkpoint.
  callbacks.append(callbacks_lib.Progress(*step_args, total, examples_per_step, config, output_dir,
                                          watched=[c for c in callbacks if hasattr(c, "paused_seconds")]))
  callbacks.extend(extra_callbacks)
  # Last, so a signal that arrives during another callback's work at a step still stops at that step.
  stopper = callbacks_lib.StopOnRequest(*step_args, request, checkpointer, multi_worker)
  callbacks.append(stopper)
  dataset = pipeline.distributed_dataset(strategy, data, config.batch_size, config.seed, start_step,
                                        config.d_steps, networks.get(config.network).output)
  try:
    # One Keras "epoch" of every remaining step: the data stream runs over epochs of its own (a permutation
    # per pass, pipeline.train_dataset), and a Keras epoch that is not a whole number of
    # --steps_per_execution calls would train past the steps it counts.
    with pipeline.untuned_device_datasets():
      model.fit(dataset, epochs=1, steps_per_epoch=total - start_step, callbacks=callbacks, verbose=0,
                shuffle=False)
  except (tf.errors.UnavailableError, tf.errors.DeadlineExceededError) as e:
    if not multi_worker:
      raise
    # The collectives' timeout (CGAN_TF_COLLECTIVE_TIMEOUT) turns a hung peer into this error too.
    # The message opens with "Graph execution error:" and the Python stack of the failed op; the cause
    # (a reset connection, a peer without heartbeats) follows.
    lines = [line.strip() for line in str(e.message).splitlines()]
    reason = next((line for line in lines if line and not line.startswith(
        ("Graph execution error", "Detected at node", "File "))), "")
    raise WorkerLostError(
        f"a worker of the multi-worker job died or stopped answering ({type(e).__name__}: {reason[:300]}). "
        f"Checkpoints are intact; last good checkpoint: "
        f"{checkpoints.last_good_checkpoint(run_files.checkpoints)}. Restart every "
        f"worker with the same command to resume from it.") from e
  if stopper.stopped_at is not None and stopper.stopped_at < total:
    raise stopped(stopper.stopped_at, total, request, run_files, multi_worker)
  if data_lib.kind_of(config) == "points" and output_dir == config.run_dir:
    points_report.report(model.sampling_generator, data, config.latent_dim, config.seed, config.noise, config.run_dir)
  return model


def stopped(step: int, total: int, request: preemption.StopRequest, run_files: RunDir,
            multi_worker: bool) -> preemption.TrainingStopped:
  """The one line that says where a signal stopped training, what was saved, and how to resume."""
  saved = os.path.join(run_files.checkpoints, f"{checkpoints.CHECKPOINT_NAME}-{step}")
  if not multi_worker:
    return preemption.TrainingStopped(
        f"Stopped by {request.signal_name} at step {step} of {total}; saved {saved}. Run the same command to "
        f"resume from step {step}.", step, request.signal_name)
  cause = (f"this worker received {request.signal_name}" if request.requested else
           "another worker of the job received a stop signal")
  return preemption.TrainingStopped(
      f"Stopped at step {step} of {total} ({cause}; every worker stopped after this step); the chief saved "
      f"{saved}. Restart every worker with the same command to resume from step {step}.", step,
      request.signal_name)
