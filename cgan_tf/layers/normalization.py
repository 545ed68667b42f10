"""Normalization layers: spectral normalization of D's weights, and (conditional) batch normalization
synchronized over replicas."""

import keras
from keras import layers
from keras import ops
import tensorflow as tf

from cgan_tf.layers.common import PACKAGE, accumulation_dtype


def l2_normalize(x, epsilon=1e-12):
  return x / ops.sqrt(ops.maximum(ops.sum(ops.square(x)), epsilon))


def power_iteration(matrix, u):
  """One power-iteration step for the largest singular value of `matrix` [rows, cols] from the estimate
  `u` [cols]: (u_new [cols], v [rows]), in the matrix's dtype."""
  v = l2_normalize(ops.matmul(matrix, ops.cast(u, matrix.dtype)))
  return l2_normalize(ops.matmul(ops.transpose(matrix), v)), v


class SpectralNormMixin:
  """Divides a layer's kernel by its largest singular value (Miyato et al. 2018).

  The estimate of the leading left singular vector `u` is a non-trainable weight. The forward pass takes
  one power-iteration half-step from it without assigning (so it is a pure function of the weights and
  works inside XLA-compiled per-replica functions); `update_spectral_norm()` advances `u` and is called
  by the training step once per discriminator update, outside any compiled per-replica function.
  Every replica computes the same `u` from the same weights, so the assignment needs no aggregation.
  """

  has_spectral_norm = True

  def _build_spectral_norm(self, kernel_shape):
    columns = int(kernel_shape[-1])
    self.spectral_u = self.add_weight(shape=(columns,), initializer=keras.initializers.RandomNormal(seed=None),
                                      trainable=False, name="spectral_u", autocast=False)

  def _kernel_matrix(self, kernel):
    return ops.reshape(ops.cast(kernel, accumulation_dtype(kernel)), (-1, ops.shape(kernel)[-1]))

  def _singular_vectors(self, kernel):
    """One power iteration from the stored u: (u_new, v), both without gradient."""
    return power_iteration(ops.stop_gradient(self._kernel_matrix(kernel)), self.spectral_u)

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


def spectral_norm_layers(model: keras.Model) -> list:
  """The model's layers with a spectral norm estimate that the training step advances once per
  discriminator update (`update_spectral_norm`): spectrally normalized kernels, and the projection
  logit's normalized class embedding. Each says so by `has_spectral_norm`."""
  return [layer for layer in model._flatten_layers(include_self=False) if getattr(layer, "has_spectral_norm", False)]


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
