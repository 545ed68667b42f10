"""Layers the modern conditional-GAN options need: spectral normalization, conditional batch
normalization, the projection discriminator's output, the minibatch standard deviation, and dropout that is
the same on any number of replicas.

Under a mixed precision policy a layer receives inputs in its compute dtype but owns float32 variables;
every layer here casts what it mixes to `self.compute_dtype` and builds its sub-layers under its own
dtype policy, so it works under float32, mixed_float16, mixed_bfloat16 and float64 alike.

Each is registered for Keras serialization, so a generator that uses one still saves to `.keras` and loads
back with `safe_mode=True` (after `import cgan_tf.layers`).
"""

import contextlib
import threading

import keras
from keras import layers
from keras import ops
import tensorflow as tf

from cgan_tf import rng

PACKAGE = "cgan_tf"


def _accumulation_dtype(x) -> str:
  """float32 for float32 and lower-precision tensors, float64 for float64: a sum or power iteration over
  many values keeps at least float32 accuracy under a mixed policy, and the full accuracy of a float64 run."""
  return "float64" if keras.backend.standardize_dtype(x.dtype) == "float64" else "float32"


def _l2_normalize(x, epsilon=1e-12):
  return x / ops.sqrt(ops.maximum(ops.sum(ops.square(x)), epsilon))


def _power_iteration(matrix, u):
  """One power-iteration step for the largest singular value of `matrix` [rows, cols] from the estimate
  `u` [cols]: (u_new [cols], v [rows]), in the matrix's dtype."""
  v = _l2_normalize(ops.matmul(matrix, ops.cast(u, matrix.dtype)))
  return _l2_normalize(ops.matmul(ops.transpose(matrix), v)), v


class SpectralNormMixin:
  """Divides a layer's kernel by its largest singular value (Miyato et al. 2018).

  The estimate of the leading left singular vector `u` is a non-trainable weight. The forward pass takes
  one power-iteration half-step from it without assigning (so it is a pure function of the weights and
  works inside XLA-compiled per-replica functions); `update_spectral_norm()` advances `u` and is called
  by the training step once per discriminator update, outside any compiled per-replica function.
  Every replica computes the same `u` from the same weights, so the assignment needs no aggregation.
  """

  def _build_spectral_norm(self, kernel_shape):
    columns = int(kernel_shape[-1])
    self.spectral_u = self.add_weight(shape=(columns,), initializer=keras.initializers.RandomNormal(seed=None),
                                      trainable=False, name="spectral_u", autocast=False)

  def _kernel_matrix(self, kernel):
    return ops.reshape(ops.cast(kernel, _accumulation_dtype(kernel)), (-1, ops.shape(kernel)[-1]))

  def _singular_vectors(self, kernel):
    """One power iteration from the stored u: (u_new, v), both without gradient."""
    return _power_iteration(ops.stop_gradient(self._kernel_matrix(kernel)), self.spectral_u)

  def normalized_kernel(self, kernel):
    """kernel / sigma, sigma = v^T W u with u, v held constant (the gradient flows through W only)."""
    u, v = self._singular_vectors(kernel)
    sigma = ops.sum(v * ops.matmul(self._kernel_matrix(kernel), u))
    return kernel / ops.cast(sigma, kernel.dtype)

  def update_spectral_norm(self):
    u, _ = self._singular_vectors(self.kernel)
    self.spectral_u.assign(ops.cast(u, self.spectral_u.dtype))

  # Keras's Dense and Conv2D save only their kernel and bias to a .keras file, while the loader expects
  # every variable the layer owns: without `u` a spectrally normalized network would not load back.
  def save_own_variables(self, store):
    super().save_own_variables(store)
    if self.built:
      store["spectral_u"] = self.spectral_u

  def load_own_variables(self, store):
    super().load_own_variables(store)
    if self.built:
      self.spectral_u.assign(store["spectral_u"])


@keras.saving.register_keras_serializable(package=PACKAGE)
class SNConv2D(SpectralNormMixin, layers.Conv2D):
  """Conv2D with a spectrally normalized kernel."""

  def build(self, input_shape):
    super().build(input_shape)
    self._build_spectral_norm(self.kernel.shape)

  def convolution_op(self, inputs, kernel):
    return super().convolution_op(inputs, self.normalized_kernel(kernel))


@keras.saving.register_keras_serializable(package=PACKAGE)
class SNDense(SpectralNormMixin, layers.Dense):
  """Dense with a spectrally normalized kernel (plain float path only: no quantization, no LoRA)."""

  def build(self, input_shape):
    super().build(input_shape)
    self._build_spectral_norm(self.kernel.shape)

  def call(self, inputs, training=None):
    x = ops.matmul(inputs, self.normalized_kernel(self.kernel))
    if self.bias is not None:
      x = ops.add(x, self.bias)
    if self.activation is not None:
      x = self.activation(x)
    return x


# How a generator's image layer (a stride-1 convolution to the image's 1 or 3 channels) is computed:
# "auto" is "depthwise" where oneDNN runs the layer (the CPU without XLA), else "standard": XLA compiles its
# own convolutions, in which the depthwise form measured several times slower, and so do GPUs and TPUs.
IMAGE_CONVS = ("auto", "standard", "depthwise")
# Output channels up to which the depthwise formulation is used; wider convolutions block well as they are.
NARROW_FILTERS = 4


def narrow_conv2d(inputs, kernel):
  """A stride-1, "same", odd-sized convolution to few output channels, computed as oneDNN handles well.

  oneDNN blocks a convolution's output channels by 16 to 64, so a 7x7 convolution from 64 channels to 1
  does the arithmetic of 64 output channels and runs at a few GFLOP/s; its filter gradient likewise. The
  same numbers come out of (a) a depthwise convolution with `filters` outputs per input channel, summed
  over the input channels, forward; (b) the input gradient as the usual transposed convolution, which
  has no narrow dimension to block; (c) the filter gradient as that of the adjoint convolution, filters
  -> channels, whose output channels are the wide side, flipped in space and transposed back.

  Args:
    inputs: [batch, height, width, channels].
    kernel: [kh, kw, channels, filters], kh and kw odd, in the inputs' dtype.

  Returns:
    [batch, height, width, filters], as `tf.nn.conv2d(inputs, kernel, 1, "SAME")`.
  """
  kh, kw, channels, filters = (int(d) for d in kernel.shape)

  @tf.custom_gradient
  def convolve(x, k):
    shape = tf.shape(x)
    per_channel = tf.nn.depthwise_conv2d(x, k, [1, 1, 1, 1], "SAME")
    per_channel = tf.reshape(per_channel, tf.concat([shape[:3], [channels, filters]], 0))
    # A 16-bit sum over many channels would lose digits: accumulate in float32.
    wide = tf.float32 if x.dtype in (tf.float16, tf.bfloat16) else x.dtype
    y = tf.cast(tf.reduce_sum(tf.cast(per_channel, wide), axis=3), x.dtype)

    def gradient(dy):
      dx = tf.nn.conv2d_transpose(dy, k, shape, 1, "SAME")
      adjoint = tf.raw_ops.Conv2DBackpropFilter(input=dy, filter_sizes=[kh, kw, filters, channels],
                                                out_backprop=x, strides=[1, 1, 1, 1], padding="SAME")
      return dx, tf.transpose(tf.reverse(adjoint, [0, 1]), [0, 1, 3, 2])

    return y, gradient

  return convolve(inputs, kernel)


@keras.saving.register_keras_serializable(package=PACKAGE)
class ImageConv2D(layers.Conv2D):
  """Conv2D that runs as `narrow_conv2d` where that applies (same weights, same function, other kernels).

  It applies to a stride-1, undilated, ungrouped, channels-last, "same" convolution with an odd kernel
  and at most NARROW_FILTERS filters under the TensorFlow backend; anything else is plain Conv2D.
  """

  def _narrow(self) -> bool:
    return (self.filters <= NARROW_FILTERS and tuple(self.strides) == (1, 1)
            and tuple(self.dilation_rate) == (1, 1) and self.groups == 1 and self.padding == "same"
            and self.data_format == "channels_last" and all(size % 2 for size in self.kernel_size)
            and keras.backend.backend() == "tensorflow")

  def convolution_op(self, inputs, kernel):
    if not self._narrow():
      return super().convolution_op(inputs, kernel)
    kernel = ops.convert_to_tensor(kernel)
    return narrow_conv2d(inputs, ops.cast(kernel, inputs.dtype))


def resolve_image_conv(formulation: str, xla: str = "auto") -> str:
  """"auto" as "standard" under --xla=on or when TensorFlow sees a GPU or TPU, else "depthwise"; the others
  as they are. (--xla=auto compiles only on accelerators.)"""
  if formulation not in IMAGE_CONVS:
    raise ValueError(f"image conv formulation must be one of {IMAGE_CONVS}, got {formulation!r}")
  if formulation != "auto":
    return formulation
  accelerated = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("TPU")
  return "standard" if accelerated or xla == "on" else "depthwise"


def image_conv2d(filters, kernel_size, formulation="auto", xla="auto", **kwargs):
  """The generator's image layer: Conv2D, or ImageConv2D where `formulation` resolves to "depthwise"."""
  depthwise = resolve_image_conv(formulation, xla) == "depthwise"
  return (ImageConv2D if depthwise else layers.Conv2D)(filters, kernel_size, **kwargs)


def spectral_norm_layers(model: keras.Model) -> list:
  """The model's spectrally normalized layers, whose `u` the training step advances."""
  return [layer for layer in model._flatten_layers(include_self=False) if isinstance(layer, SpectralNormMixin)]


def dense(units, spectral_norm=False, **kwargs):
  """A Dense layer, spectrally normalized if asked."""
  return (SNDense if spectral_norm else layers.Dense)(units, **kwargs)


def conv2d(filters, kernel_size, spectral_norm=False, **kwargs):
  """A Conv2D layer, spectrally normalized if asked."""
  return (SNConv2D if spectral_norm else layers.Conv2D)(filters, kernel_size, **kwargs)


def batch_normalization(**kwargs):
  """BatchNormalization that normalizes over the global batch when several replicas train.

  With per-replica statistics, N replicas would normalize differently from one replica over the same
  batch, and each replica's moving averages would silently drift apart (a variable without aggregation
  keeps whatever each replica assigns). Synchronized statistics make both the same as one replica.
  """
  synchronized = tf.distribute.get_strategy().num_replicas_in_sync > 1
  return layers.BatchNormalization(synchronized=synchronized, **kwargs)


@keras.saving.register_keras_serializable(package=PACKAGE)
class ConditionalBatchNorm(layers.Layer):
  """Batch normalization whose scale and offset are looked up per class (de Vries et al. 2017;
  Miyato & Koyama 2018's generator): BN(x) * (1 + gamma[y]) + beta[y], gamma and beta starting at 0.

  Call with [x, label], label int [batch].
  """

  def __init__(self, num_classes, momentum=0.99, epsilon=1e-3, synchronized=False, **kwargs):
    super().__init__(**kwargs)
    self.num_classes = num_classes
    self.momentum = momentum
    self.epsilon = epsilon
    self.synchronized = synchronized
    self.normalize = layers.BatchNormalization(center=False, scale=False, momentum=momentum, epsilon=epsilon,
                                               synchronized=synchronized, dtype=self.dtype_policy,
                                               name="normalize")

  def build(self, input_shape):
    feature_shape, _ = input_shape
    channels = int(feature_shape[-1])
    self.normalize.build(feature_shape)
    self.gamma = self.add_weight(shape=(self.num_classes, channels), initializer="zeros", name="gamma")
    self.beta = self.add_weight(shape=(self.num_classes, channels), initializer="zeros", name="beta")

  def call(self, inputs, training=None):
    x, label = inputs
    x = self.normalize(x, training=training)
    label = ops.cast(label, "int32")
    gamma = ops.cast(ops.take(self.gamma, label, axis=0), self.compute_dtype)
    beta = ops.cast(ops.take(self.beta, label, axis=0), self.compute_dtype)
    spatial = [1] * (len(x.shape) - 2)
    gamma = ops.reshape(gamma, (-1, *spatial, gamma.shape[-1]))
    beta = ops.reshape(beta, (-1, *spatial, beta.shape[-1]))
    return ops.cast(x, self.compute_dtype) * (1.0 + gamma) + beta

  def compute_output_shape(self, input_shape):
    return input_shape[0]

  def get_config(self):
    return {**super().get_config(), "num_classes": self.num_classes, "momentum": self.momentum,
            "epsilon": self.epsilon, "synchronized": self.synchronized}


def conditional_batch_normalization(num_classes, **kwargs):
  """A ConditionalBatchNorm, synchronized over replicas like `batch_normalization`."""
  return ConditionalBatchNorm(num_classes, synchronized=tf.distribute.get_strategy().num_replicas_in_sync > 1,
                              **kwargs)


@keras.saving.register_keras_serializable(package=PACKAGE)
class ProjectionLogit(layers.Layer):
  """The projection discriminator's output (Miyato & Koyama 2018): psi(h) + <embed(y), h>.

  Call with [features float [batch, D], label int [batch]]; returns logits [batch, 1].
  """

  def __init__(self, num_classes, spectral_norm=False, **kwargs):
    super().__init__(**kwargs)
    self.num_classes = num_classes
    self.spectral_norm = spectral_norm
    self.linear = dense(1, spectral_norm, dtype=self.dtype_policy, name="linear")

  def build(self, input_shape):
    feature_shape, _ = input_shape
    features = int(feature_shape[-1])
    self.linear.build(feature_shape)
    self.embedding = self.add_weight(shape=(self.num_classes, features),
                                     initializer=keras.initializers.GlorotUniform(), name="embedding")
    if self.spectral_norm:
      # The class embedding is normalized too: as a [classes, D] matrix it is a linear map of one-hot y.
      self.embedding_u = self.add_weight(shape=(features,), initializer=keras.initializers.RandomNormal(),
                                         trainable=False, name="embedding_u", autocast=False)

  def _embedding_matrix(self):
    if not self.spectral_norm:
      return self.embedding
    matrix = ops.cast(self.embedding, _accumulation_dtype(self.embedding))
    u, v = _power_iteration(ops.stop_gradient(matrix), self.embedding_u)
    sigma = ops.sum(v * ops.matmul(matrix, u))
    return self.embedding / ops.cast(sigma, self.embedding.dtype)

  def update_spectral_norm(self):
    u, _ = _power_iteration(ops.cast(self.embedding, _accumulation_dtype(self.embedding)), self.embedding_u)
    self.embedding_u.assign(ops.cast(u, self.embedding_u.dtype))

  def call(self, inputs, training=None):
    features, label = inputs
    features = ops.cast(features, self.compute_dtype)
    embedded = ops.cast(ops.take(self._embedding_matrix(), ops.cast(label, "int32"), axis=0), self.compute_dtype)
    projection = ops.sum(embedded * features, axis=-1, keepdims=True)
    return ops.cast(self.linear(features), self.compute_dtype) + projection

  def compute_output_shape(self, input_shape):
    return (input_shape[0][0], 1)

  def get_config(self):
    return {**super().get_config(), "num_classes": self.num_classes, "spectral_norm": self.spectral_norm}


@keras.saving.register_keras_serializable(package=PACKAGE)
class MinibatchStdDev(layers.Layer):
  """ProGAN's minibatch standard deviation (Karras et al. 2018): one feature map more, holding how much the
  features vary within the example's group, so D can tell a batch of near-copies from real data.

  Groups are `group_size` consecutive examples. A replica's slice of the global batch is consecutive and
  holds whole groups, so one replica or several form the same groups; D takes the real and the fake batch
  in separate calls, so a group never mixes them. The spread is computed in at least float32 (a variance of
  bfloat16 features would keep two or three digits).

  Call with features [batch, height, width, channels]; returns [batch, height, width, channels + 1].
  """

  def __init__(self, group_size, **kwargs):
    super().__init__(**kwargs)
    self.group_size = group_size

  def call(self, features):
    batch, height, width, channels = ops.shape(features)
    grouped = ops.reshape(ops.cast(features, _accumulation_dtype(features)),
                          (-1, self.group_size, height, width, channels))
    deviation = grouped - ops.mean(grouped, axis=1, keepdims=True)
    spread = ops.mean(ops.sqrt(ops.mean(ops.square(deviation), axis=1, keepdims=True) + 1e-8), axis=(2, 3, 4),
                      keepdims=True)  # [groups, 1, 1, 1, 1]
    # Each member of a group gets its group's value at every position. Broadcasting by an addition, not
    # repeat/tile: their gradients reshape to dynamic sizes that XLA cannot infer inside a second-order
    # gradient (the R1 penalty's) under a conditional.
    spread_map = ops.reshape(ops.zeros_like(grouped[..., :1]) + spread, (batch, height, width, 1))
    return ops.concatenate([ops.cast(features, self.compute_dtype), ops.cast(spread_map, self.compute_dtype)],
                           axis=-1)

  def compute_output_shape(self, input_shape):
    return (*input_shape[:-1], input_shape[-1] + 1)

  def get_config(self):
    return {**super().get_config(), "group_size": self.group_size}


def minibatch_std(group_size, **kwargs):
  """The minibatch standard deviation over groups of `group_size`, or the identity for 0."""
  return MinibatchStdDev(group_size, **kwargs) if group_size else (lambda x: x)


# --- Dropout that does not depend on how many replicas share the batch ---------------------------------

_DROPOUT_STATE = threading.local()


class _DropoutSeed:
  """The dropout masks of one network call site in a train step: the step's seed, and where this
  replica's rows sit in the global batch. Counts the dropout calls made under it, so each call (real
  batch, fake batch, penalty) draws its own mask."""

  def __init__(self, seed, replica_id, global_batch_size):
    self.seed = seed
    self.replica_id = replica_id
    self.global_batch_size = global_batch_size
    self.calls = 0

  def next_seed(self):
    self.calls += 1
    return rng.fold_in(self.seed, self.calls)


@contextlib.contextmanager
def dropout_seed(seed, replica_id, global_batch_size):
  """Makes every `BatchDropout` called inside draw its mask from `seed` for this replica's rows.

  The mask of example i of the global batch is then a pure function of (seed, i): one replica over the
  whole batch and N replicas over its slices drop the same units, and a resumed run drops what the
  uninterrupted one would have. Replica threads each hold their own context.

  Args:
    seed: a [2] stateless seed (the step's, folded with a stream).
    replica_id: int32 scalar tensor, this replica's index in its sync group.
    global_batch_size: rows of the global batch the replica's slice is cut from.
  """
  stack = getattr(_DROPOUT_STATE, "stack", None)
  if stack is None:
    stack = _DROPOUT_STATE.stack = []
  stack.append(_DropoutSeed(seed, replica_id, global_batch_size))
  try:
    yield
  finally:
    stack.pop()


def _current_dropout_seed():
  stack = getattr(_DROPOUT_STATE, "stack", None)
  return stack[-1] if stack else None


@keras.saving.register_keras_serializable(package=PACKAGE)
class BatchDropout(layers.Dropout):
  """Dropout whose mask is cut from a mask over the global batch, drawn from the train step's seed.

  Keras's Dropout draws from a seed generator whose state is mirrored, so under N replicas every replica
  drops the same units of its own examples: not what one device does over the whole batch. Inside a
  `dropout_seed` context this layer draws the global batch's mask statelessly and keeps its replica's
  rows; outside one (a network called directly, in training mode) it is Keras's Dropout.
  """

  def call(self, inputs, training=False):
    context = _current_dropout_seed()
    if not training or self.rate == 0 or context is None:
      return super().call(inputs, training=training)
    batch_size = tf.shape(inputs)[0]
    global_shape = tf.concat([[context.global_batch_size], tf.shape(inputs)[1:]], axis=0)
    start = tf.cast(context.replica_id, tf.int32) * batch_size
    keep = rng.uniform(global_shape, context.next_seed())[start:start + batch_size] >= self.rate
    kept = inputs / ops.cast(1.0 - self.rate, inputs.dtype)
    return tf.where(keep, kept, tf.zeros_like(inputs))


def dropout(rate, **kwargs):
  """Dropout that gives the same masks on one or several replicas (see `BatchDropout`)."""
  return BatchDropout(rate, **kwargs)
