"""The GAN as a Keras model whose `train_step` updates D and G in the same step, each by its optimizer.

Noise, fake labels and augmentation parameters are a pure function of (seed, step, position in the global
batch): every replica draws the whole global batch's values from a stateless seed and keeps its own
slice. Replicas thereby get distinct noise, a resumed run continues the same stream (the step is
checkpointed), and a step does not depend on how many replicas share the batch.

The maths lives elsewhere: losses in `losses.py`, penalties in `penalties.py`, DiffAugment in
`augment.py`. This module orchestrates one step: `d_steps` discriminator updates (each on its own slice
of real data and fresh fakes), one generator update through the updated D, then the bookkeeping of the
spectrally normalized layers and the generator's moving average.
"""

import dataclasses
from typing import Tuple

import keras
import tensorflow as tf

from cgan_tf import augment
from cgan_tf import layers as cgan_layers
from cgan_tf import loss_scale
from cgan_tf import losses
from cgan_tf import penalties
from cgan_tf import preemption
from cgan_tf import rng
from cgan_tf import schedules
from cgan_tf.registry import Registry

# Streams folded into a step's seed. Discriminator update k draws from D_STREAM_BASE * k + the stream
# (k = 0 keeps the first version's streams, so runs made before d_steps existed resume alike).
NOISE_STREAM = 0
LABEL_STREAM = 1
GENERATOR_STREAM = 2  # The alternating scheme's second draw, for the generator's own update.
REAL_AUGMENT_STREAM = 10
FAKE_AUGMENT_STREAM = 11
GENERATOR_AUGMENT_STREAM = 12
PENALTY_STREAM = 13
DROPOUT_STREAM = 14
GENERATOR_DROPOUT_STREAM = 15
D_STREAM_BASE = 100
UPDATE_SCHEMES = Registry("update scheme", {
    "alternating": "D steps, then G steps on fresh noise through the updated D (the source material's order)",
    "simultaneous": "both from one forward pass (cheaper; the reference cDCGAN collapsed with it on "
                    "Fashion-MNIST)",
})


@dataclasses.dataclass(frozen=True)
class StepOptions:
  """How one train step trains (fixed for the run; never read from globals inside the step).

  Attributes:
    loss: a name registered in `losses.LOSSES`.
    update_scheme: 'alternating' (D steps, then G steps on fresh noise through the updated D, as the
      source material does) or 'simultaneous' (both from one forward pass, as TF's DCGAN tutorial does).
    d_steps: discriminator updates per generator update, each on its own real batch.
    gp_weight: WGAN-GP weight (0: off).
    r1_gamma: R1 weight gamma; the penalty is gamma / 2 * ||grad D(x_real)||^2 (0: off).
    r1_every: lazy R1: apply it every this many steps, scaled by this factor (1: every step).
    augment: DiffAugment policies applied to D's real and fake inputs.
    ema_decay: decay of the generator's exponential moving average (0: no EMA).
    ema_start: the step from which the average averages; before it, it copies the generator.
    noise: 'normal' or 'uniform' generator noise.
    mode_seeking: weight of the mode-seeking penalty in G's loss (0: off); G's batch is then drawn in pairs
      of one label (rows 2i and 2i + 1), and each replica's share must hold whole pairs.
  """

  loss: str = "nonsaturating"
  update_scheme: str = "alternating"
  d_steps: int = 1
  gp_weight: float = 0.0
  r1_gamma: float = 0.0
  r1_every: int = 1
  augment: Tuple[str, ...] = ()
  ema_decay: float = 0.0
  ema_start: int = 0
  noise: str = "normal"
  mode_seeking: float = 0.0


def replica_index() -> tf.Tensor:
  """This replica's index in its sync group (0 outside any strategy), as an int32 tensor."""
  context = tf.distribute.get_replica_context()
  replica_id = context.replica_id_in_sync_group if context is not None else 0
  return tf.cast(replica_id, tf.int32)


class ConditionalGAN(keras.Model):
  """Trains `generator([noise, label])` against `discriminator([sample, label])` (no label when
  `num_classes` is 0).

  Args:
    generator: maps noise float32 [b, latent_dim] (and label int32 [b]) to samples.
    discriminator: maps a sample (and label) to a logit [b, 1].
    latent_dim: size of the noise vector.
    num_classes: labels are drawn uniformly from [0, num_classes); 0 trains an unconditional GAN.
    global_batch_size: examples per D update over all replicas (losses are averaged over it).
    seed: the run's seed for the noise stream.
    ema_generator: a second generator of the same architecture that holds the moving average, or None.
  """

  def __init__(self, generator, discriminator, latent_dim, num_classes, global_batch_size, seed,
               ema_generator=None, **kwargs):
    super().__init__(**kwargs)
    self.generator = generator
    self.discriminator = discriminator
    self.ema_generator = ema_generator
    self.latent_dim = latent_dim
    self.num_classes = num_classes
    self.conditional = num_classes > 0
    self.global_batch_size = global_batch_size
    self.seed = seed
    # The number of completed train steps; drives the noise stream and is checkpointed.
    self.step_counter = keras.Variable(0, dtype="int64", trainable=False, name="step",
                                       aggregation="only_first_replica")
    # 1 once this worker was asked to stop (set from the host between steps, see
    # callbacks.StopOnRequest); not checkpointed. Under several workers each step reports it in its logs,
    # whose average over the replicas tells every worker after the same step that one of them must stop.
    self.stop_vote = keras.Variable(0.0, dtype="float32", trainable=False, name="stop_vote",
                                    aggregation="only_first_replica")
    self.trackers = {name: keras.metrics.Mean(name=name)
                     for name in ("d_loss", "g_loss", "d_real_accuracy", "d_fake_accuracy")}
    self.options = StepOptions()
    self.spectral_layers = cgan_layers.spectral_norm_layers(discriminator)
    # The sub-networks are built; the wrapper must count as built too or fit() tries to call it
    # on the first batch under a strategy ("Unable to automatically build the model").
    self.built = True

  def compile(self, d_optimizer, g_optimizer, options=StepOptions(), xla_plan="off", steps_per_execution=1):
    """Sets the two optimizers, how a step trains, and how XLA is used.

    Args:
      d_optimizer: updates the discriminator (a loss-scale optimizer under mixed_float16).
      g_optimizer: updates the generator.
      options: a `StepOptions`.
      xla_plan: 'whole_step', 'per_replica' or 'off' (see `distribute.resolve_xla`).
      steps_per_execution: train steps per call into the compiled function.
    """
    # jit_compile must reach super().compile or Keras silently drops it.
    super().compile(jit_compile=xla_plan == "whole_step", steps_per_execution=steps_per_execution)
    if options.update_scheme not in UPDATE_SCHEMES:
      raise ValueError(f"update_scheme must be one of {', '.join(UPDATE_SCHEMES)}, got {options.update_scheme!r}")
    if options.update_scheme == "simultaneous" and options.d_steps != 1:
      raise ValueError("the simultaneous scheme updates D once per step; d_steps must be 1")
    if options.ema_decay and self.ema_generator is None:
      raise ValueError("ema_decay > 0 needs an ema_generator")
    if options.mode_seeking and self.global_batch_size % 2:
      raise ValueError(f"mode seeking draws G's batch in pairs; the global batch {self.global_batch_size} is odd")
    self.d_optimizer = d_optimizer
    self.g_optimizer = g_optimizer
    self.options = options
    self.loss_pair = losses.get(options.loss)
    self.xla_plan = xla_plan
    if options.gp_weight:
      self.trackers["gradient_penalty"] = keras.metrics.Mean(name="gradient_penalty")
    if options.r1_gamma:
      self.trackers["r1_penalty"] = keras.metrics.Mean(name="r1_penalty")
    if options.mode_seeking:
      self.trackers["mode_seeking_penalty"] = keras.metrics.Mean(name="mode_seeking_penalty")
    # Under several replicas XLA compiles each replica's gradient computation, not the whole step.
    wrap = (lambda fn: tf.function(fn, jit_compile=True)) if xla_plan == "per_replica" else (lambda fn: fn)
    self.joint_gradients = wrap(self._joint_gradients)
    self.discriminator_gradients = wrap(self._discriminator_gradients)
    self.generator_gradients = wrap(self._generator_gradients)

  def _maybe_symbolic_build(self, iterator=None, data_batch=None):
    """Skips Keras's symbolic build: everything here is built before fit.

    Keras 3.15's version pulls the first batch and averages it with `strategy.reduce`, which fails
    under MultiWorkerMirroredStrategy ("Attempt to convert a value (PerReplica...)"); it only builds
    layers, metrics and optimizers, and this model builds all of them up front.
    """
    del iterator, data_batch

  @property
  def metrics(self):
    return list(self.trackers.values())

  @property
  def sampling_generator(self):
    """The generator that samples, grids, evaluation and export use: the moving average when there is one."""
    return self.ema_generator if self.ema_generator is not None else self.generator

  def call(self, inputs, training=False):
    return self.generator(inputs, training=training)

  # --- The networks, with or without labels ----------------------------------------------------

  def generate(self, noise, labels, training):
    return self.generator([noise, labels] if self.conditional else noise, training=training)

  def discriminate(self, samples, labels, training):
    return self.discriminator([samples, labels] if self.conditional else samples, training=training)

  # --- Random draws ------------------------------------------------------------------------------

  def step_seed(self, step, stream):
    seed = rng.fold_in(tf.constant([self.seed, 0], dtype=tf.int64), tf.cast(step, tf.int64))
    return rng.fold_in(seed, stream) if stream else seed

  def _replica_slice(self, values, batch_size, replica_id):
    start = tf.cast(replica_id, tf.int32) * batch_size
    return values[start:start + batch_size]

  def draw_latents(self, step, batch_size, replica_id, stream=0, paired=False):
    """Replica `replica_id`'s noise and fake labels for global step `step`.

    The replica id is an argument, not read from the replica context here: under per-replica XLA
    this runs inside one compiled function shared by all replicas, where a context read at trace
    time would give every replica replica 0's slice.

    With `paired`, rows 2i and 2i + 1 of the global batch share one label (the mode-seeking penalty's
    pairs); a replica's slice then holds whole pairs when `batch_size` is even.

    Returns:
      (noise float32 [batch_size, latent_dim], labels int32 [batch_size]; zeros when unconditional).
    """
    step_seed = self.step_seed(step, stream)
    noise = rng.latent([self.global_batch_size, self.latent_dim], rng.fold_in(step_seed, NOISE_STREAM),
                       self.options.noise)
    if self.conditional and paired:
      labels = tf.repeat(rng.uniform_int([self.global_batch_size // 2], rng.fold_in(step_seed, LABEL_STREAM),
                                         self.num_classes), 2)
    elif self.conditional:
      labels = rng.uniform_int([self.global_batch_size], rng.fold_in(step_seed, LABEL_STREAM), self.num_classes)
    else:
      labels = tf.zeros([self.global_batch_size], tf.int32)
    return (self._replica_slice(noise, batch_size, replica_id),
            self._replica_slice(labels, batch_size, replica_id))

  def _augment(self, samples, params):
    if not self.options.augment:
      return samples
    return augment.apply(samples, self.options.augment, params)

  def _augment_parameters(self, step, stream, batch_size, replica_id, sample_shape):
    if not self.options.augment:
      return {}
    params = augment.draw_parameters(self.options.augment, self.step_seed(step, stream),
                                     self.global_batch_size, sample_shape)
    start = tf.cast(replica_id, tf.int32) * batch_size
    return augment.slice_parameters(params, start, batch_size)

  def _dropout_seed(self, step, stream, replica_id):
    """Dropout masks for this replica's rows, a pure function of (seed, step, stream, position)."""
    return cgan_layers.dropout_seed(self.step_seed(step, stream), replica_id, self.global_batch_size)

  # --- Gradients ---------------------------------------------------------------------------------

  def _scaled_average(self, per_example, optimizer):
    # Divide by the *global* batch: the optimizers sum gradients over replicas, so N replicas would
    # otherwise train with N times the learning rate. Then multiply by the network's own loss scale
    # (identity without one): Keras scales only a compiled model's single optimizer by itself.
    return optimizer.scale_loss(
        tf.nn.compute_average_loss(per_example, global_batch_size=self.global_batch_size))

  @staticmethod
  def _statistics(d_per_example, g_per_example, real_logits, fake_logits):
    return {
        "d_loss": tf.reduce_mean(d_per_example),
        "g_loss": tf.reduce_mean(g_per_example),
        "d_real_accuracy": tf.reduce_mean(tf.cast(tf.reshape(real_logits, [-1]) > 0, tf.float32)),
        "d_fake_accuracy": tf.reduce_mean(tf.cast(tf.reshape(fake_logits, [-1]) < 0, tf.float32)),
    }

  def _penalties(self, real, real_labels, fake, step, stream, replica_id):
    """The enabled gradient penalties, per example and weighted, and their unweighted means to log."""
    total, logged = 0.0, {}
    critic = lambda samples: self.discriminate(samples, real_labels, True)  # noqa: E731
    batch_size = tf.shape(real)[0]
    # The inner input-gradient runs in the compute dtype: under float16 it is loss-scaled like D's own
    # gradients, or small gradients would underflow to zero and silently switch the penalty off.
    scale = loss_scale.scale(self.d_optimizer)
    if self.options.gp_weight:
      # Interpolates take the real labels: the penalty asks D to be 1-Lipschitz in the image for each class.
      alpha = self._replica_slice(
          rng.uniform([self.global_batch_size], self.step_seed(step, stream + PENALTY_STREAM)), batch_size,
          replica_id)
      penalty = penalties.gradient_penalty(critic, real, fake, alpha, scale)
      total += self.options.gp_weight * penalty
      logged["gradient_penalty"] = tf.reduce_mean(penalty)
    if self.options.r1_gamma:
      every = self.options.r1_every
      # Lazy R1 (StyleGAN2): every `every` steps, weighted up by `every`, so its average pull is the same.
      penalty = tf.cond(tf.equal(tf.math.floormod(step, every), 0), lambda: penalties.r1_penalty(critic, real, scale),
                        lambda: tf.zeros([batch_size], tf.float32))
      total += (0.5 * self.options.r1_gamma * every) * penalty
      logged["r1_penalty"] = tf.reduce_mean(penalty)
    return total, logged

  def _generator_penalties(self, fake, noise):
    """The enabled penalties on G, per example and weighted, and their unweighted means to log."""
    if not self.options.mode_seeking:
      return 0.0, {}
    penalty = penalties.mode_seeking_penalty(fake, noise)
    return self.options.mode_seeking * penalty, {"mode_seeking_penalty": tf.reduce_mean(penalty)}

  def _joint_gradients(self, real, real_labels, step, replica_id):
    """Simultaneous scheme: both networks' gradients from one forward pass."""
    batch_size = tf.shape(real_labels)[0]
    noise, fake_labels = self.draw_latents(step, batch_size, replica_id, paired=bool(self.options.mode_seeking))
    real_params = self._augment_parameters(step, REAL_AUGMENT_STREAM, batch_size, replica_id, real.shape[1:])
    fake_params = self._augment_parameters(step, FAKE_AUGMENT_STREAM, batch_size, replica_id, real.shape[1:])
    with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape, self._dropout_seed(step, DROPOUT_STREAM,
                                                                                       replica_id):
      fake = self.generate(noise, fake_labels, True)
      real_in, fake_in = self._augment(real, real_params), self._augment(fake, fake_params)
      real_logits = self.discriminate(real_in, real_labels, True)
      fake_logits = self.discriminate(fake_in, fake_labels, True)
      d_per_example = self.loss_pair.discriminator(real_logits, fake_logits)
      penalty, logged = self._penalties(real_in, real_labels, fake_in, step, 0, replica_id)
      g_per_example = self.loss_pair.generator(fake_logits)
      g_penalty, g_logged = self._generator_penalties(fake, noise)
      d_scaled = self._scaled_average(d_per_example + tf.cast(penalty, d_per_example.dtype), self.d_optimizer)
      g_scaled = self._scaled_average(g_per_example + tf.cast(g_penalty, g_per_example.dtype), self.g_optimizer)
    d_grads = d_tape.gradient(d_scaled, self.discriminator.trainable_variables)
    g_grads = g_tape.gradient(g_scaled, self.generator.trainable_variables)
    stats = self._statistics(d_per_example, g_per_example, real_logits, fake_logits)
    stats.update(logged)
    stats.update(g_logged)
    return d_grads, g_grads, stats

  def _discriminator_gradients(self, real, real_labels, step, replica_id, d_step=0):
    """D's gradients on real samples and a batch of fakes; `d_step` numbers the updates of one step."""
    stream = D_STREAM_BASE * d_step
    batch_size = tf.shape(real_labels)[0]
    noise, fake_labels = self.draw_latents(step, batch_size, replica_id, stream)
    fake = self.generate(noise, fake_labels, True)
    real_in = self._augment(real, self._augment_parameters(step, stream + REAL_AUGMENT_STREAM, batch_size,
                                                           replica_id, real.shape[1:]))
    fake_in = self._augment(fake, self._augment_parameters(step, stream + FAKE_AUGMENT_STREAM, batch_size,
                                                           replica_id, real.shape[1:]))
    with tf.GradientTape() as d_tape, self._dropout_seed(step, stream + DROPOUT_STREAM, replica_id):
      real_logits = self.discriminate(real_in, real_labels, True)
      fake_logits = self.discriminate(fake_in, fake_labels, True)
      d_per_example = self.loss_pair.discriminator(real_logits, fake_logits)
      penalty, logged = self._penalties(real_in, real_labels, fake_in, step, stream, replica_id)
      d_scaled = self._scaled_average(d_per_example + tf.cast(penalty, d_per_example.dtype), self.d_optimizer)
    d_grads = d_tape.gradient(d_scaled, self.discriminator.trainable_variables)
    return d_grads, d_per_example, real_logits, fake_logits, logged

  def _generator_gradients(self, step, batch_size, replica_id):
    """G's gradients on fresh noise, through the updated D, with the statistics of its penalties."""
    noise, fake_labels = self.draw_latents(step, batch_size, replica_id, GENERATOR_STREAM,
                                           paired=bool(self.options.mode_seeking))
    params = self._augment_parameters(step, GENERATOR_AUGMENT_STREAM, batch_size, replica_id,
                                      self.generator.output.shape[1:])
    with tf.GradientTape() as g_tape, self._dropout_seed(step, GENERATOR_DROPOUT_STREAM, replica_id):
      fake = self.generate(noise, fake_labels, True)
      fake_logits = self.discriminate(self._augment(fake, params), fake_labels, True)
      g_per_example = self.loss_pair.generator(fake_logits)
      g_penalty, g_logged = self._generator_penalties(fake, noise)
      g_scaled = self._scaled_average(g_per_example + tf.cast(g_penalty, g_per_example.dtype), self.g_optimizer)
    return g_tape.gradient(g_scaled, self.generator.trainable_variables), g_per_example, g_logged

  # --- The step ------------------------------------------------------------------------------------

  def _after_discriminator_update(self):
    for layer in self.spectral_layers:
      layer.update_spectral_norm()

  def _after_generator_update(self, step):
    if not self.options.ema_decay:
      return
    # A function of the checkpointed step, not of Python state: the same on every replica, in a compiled
    # step, and after a resume.
    # A name scope of its own, so a profile can tell these ops from the optimizers' (tools/benchmark.py profile).
    with tf.name_scope("ema"):
      decay_now = schedules.ema_decay(step, self.options.ema_decay, self.options.ema_start)
      decay = tf.cast(decay_now, self.ema_generator.trainable_weights[0].dtype)
      for average, weight in zip(self.ema_generator.trainable_weights, self.generator.trainable_weights):
        average.assign(decay * average + (1.0 - decay) * weight)
      # Normalization statistics are not averaged; the moving average uses the generator's current ones.
      for average, weight in zip(self.ema_generator.non_trainable_weights, self.generator.non_trainable_weights):
        average.assign(weight)

  def train_step(self, data):
    real_all, labels_all = data
    # Real and fake samples meet in D, the penalties and DiffAugment: one dtype (float64 in numerical checks).
    real_all = tf.cast(real_all, self.generator.output.dtype)
    step, replica_id = self.step_counter.value, replica_index()
    d_variables = self.discriminator.trainable_variables
    g_variables = self.generator.trainable_variables
    d_steps = self.options.d_steps
    # The pipeline hands each replica d_steps batches at once (data.pipeline.train_dataset); split them.
    batch_size = tf.shape(labels_all)[0] // d_steps
    if self.options.update_scheme == "simultaneous":
      d_grads, g_grads, stats = self.joint_gradients(real_all, labels_all, step, replica_id)
      self.d_optimizer.apply(d_grads, d_variables)
      self._after_discriminator_update()
      self.g_optimizer.apply(g_grads, g_variables)
    else:
      for d_step in range(d_steps):
        rows = slice(d_step * batch_size, (d_step + 1) * batch_size) if d_steps > 1 else slice(None)
        d_grads, d_per_example, real_logits, fake_logits, logged = self.discriminator_gradients(
            real_all[rows], labels_all[rows], step, replica_id, d_step)
        self.d_optimizer.apply(d_grads, d_variables)
        self._after_discriminator_update()
      g_grads, g_per_example, g_logged = self.generator_gradients(step, batch_size, replica_id)
      self.g_optimizer.apply(g_grads, g_variables)
      # The statistics of the last D update and the G update.
      stats = self._statistics(d_per_example, g_per_example, real_logits, fake_logits)
      stats.update(logged)
      stats.update(g_logged)
    self._after_generator_update(step)
    self.step_counter.assign_add(1)
    for name, value in stats.items():
      self.trackers[name].update_state(value)
    logs = {name: tracker.result() for name, tracker in self.trackers.items()}
    for name, optimizer in (("d_loss_scale", self.d_optimizer), ("g_loss_scale", self.g_optimizer)):
      if loss_scale.is_scaled(optimizer):
        logs[name] = optimizer.dynamic_scale
    if isinstance(self.distribute_strategy, tf.distribute.MultiWorkerMirroredStrategy):
      logs[preemption.STOP_VOTE] = tf.identity(self.stop_vote.value)
      # Keras 3.15 reduces logs under several workers with strategy.reduce("MEAN", axis=0), which
      # fails on scalars; as [1] vectors they average over all replicas back to scalars.
      logs = {name: tf.reshape(value, [1]) for name, value in logs.items()}
    return logs
