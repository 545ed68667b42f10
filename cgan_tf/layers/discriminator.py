"""Layers of the discriminator's head: the projection discriminator's logit and the minibatch standard
deviation."""

import keras
from keras import layers
from keras import ops

from cgan_tf.layers.common import PACKAGE, accumulation_dtype
from cgan_tf.layers.normalization import dense, power_iteration


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

  @property
  def has_spectral_norm(self) -> bool:
    """Whether the class embedding is spectrally normalized, so the training step advances its estimate."""
    return self.spectral_norm

  def _embedding_matrix(self):
    if not self.spectral_norm:
      return self.embedding
    matrix = ops.cast(self.embedding, accumulation_dtype(self.embedding))
    u, v = power_iteration(ops.stop_gradient(matrix), self.embedding_u)
    sigma = ops.sum(v * ops.matmul(matrix, u))
    return self.embedding / ops.cast(sigma, self.embedding.dtype)

  def update_spectral_norm(self):
    u, _ = power_iteration(ops.cast(self.embedding, accumulation_dtype(self.embedding)), self.embedding_u)
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
    grouped = ops.reshape(ops.cast(features, accumulation_dtype(features)),
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
