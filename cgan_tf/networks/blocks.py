"""Pieces the networks share: their inputs, the ways a label enters G and D, and normalization."""

import keras
from keras import layers

from cgan_tf import layers as cgan_layers
from cgan_tf.networks.common import output_dtype, upsampling_stages


def inputs(config, first, conditional):
  """([first, label] or [first], label or None): the network's inputs, with the label when conditional."""
  if not conditional:
    return [first], None
  label = keras.Input((), dtype="int32", name="label")
  return [first, label], label


def generator_stem(config, g_conditioning, filters):
  """The start every convolutional generator shares.

  Returns:
    (model_inputs, label or None, x, label_channel or None, stages): the noise (with the one-hot label for
    "concat" conditioning) through Dense to a [base_h, base_w, filters] map `x`, not yet activated; for
    "channel" conditioning the label's extra feature map, built before the Dense as the reference network
    does (checkpoints of earlier runs are keyed by the layer order); the number of stride-2 stages.
  """
  height, width, _ = config.image_shape
  stages = upsampling_stages(height, width)
  base_h, base_w = height // 2 ** stages, width // 2 ** stages
  conditional = config.num_classes > 0
  noise = keras.Input((config.latent_dim,), name="noise")
  model_inputs, label = inputs(config, noise, conditional)
  label_channel = None
  if conditional and g_conditioning == "channel":
    label_channel = label_map(label, config, base_h, base_w, "g_label")
  x = noise
  if conditional and g_conditioning == "concat":
    x = layers.Concatenate(name="g_noise_label")([noise, one_hot(label, config.num_classes, "g_one_hot")])
  x = layers.Dense(base_h * base_w * filters, name="g_project")(x)
  x = layers.Reshape((base_h, base_w, filters))(x)
  return model_inputs, label, x, label_channel, stages


def one_hot(label, num_classes, name):
  """The label as a one-hot float vector [batch, num_classes] (a layer that saves and loads safely)."""
  return layers.CategoryEncoding(num_classes, output_mode="one_hot", name=name)(label)


def label_map(label, config, height, width, name, via="channel", spectral_norm=False):
  """The label as one extra [H, W, 1] feature map, to concatenate with an image or feature map.

  via="channel": Embedding(embedding_dim) -> Dense(H*W), the reference cDCGAN's;
  via="concat": one-hot -> Dense(H*W), the Keras book's CGAN discriminator.
  """
  if via == "concat":
    x = one_hot(label, config.num_classes, f"{name}_one_hot")
  else:
    x = layers.Embedding(config.num_classes, config.embedding_dim, name=f"{name}_embedding")(label)
  x = cgan_layers.dense(height * width, spectral_norm, name=f"{name}_projection")(x)
  return layers.Reshape((height, width, 1), name=f"{name}_map")(x)


def normalize(x, label, conditional_bn, num_classes, name):
  """Batch normalization; class-conditional (CBN) when asked and a label is there."""
  if conditional_bn and label is not None:
    return cgan_layers.conditional_batch_normalization(num_classes, name=name)([x, label])
  return cgan_layers.batch_normalization(name=name)(x)


def discriminator_output(features, label, config, d_conditioning, spectral_norm, name="d_logit"):
  """The logit: Dense(1), or the projection discriminator's psi(h) + <embed(y), h>."""
  if label is not None and d_conditioning == "projection":
    return cgan_layers.ProjectionLogit(config.num_classes, spectral_norm, dtype=output_dtype(),
                                       name=name)([features, label])
  return cgan_layers.dense(1, spectral_norm, dtype=output_dtype(), name=name)(features)
