"""Dense networks: `mlp`, the source material's conditional MLP GAN on images, and `mlp_points`, the
small unconditional GAN of points (the 2-D circle).

mlp: G = [z, one-hot(y)] -> Dense(128, relu) -> Dense(H*W*C, sigmoid); D = [flattened x, one-hot(y)] ->
Dense(128, relu) -> Dense(1) logit. Images are on [0, 1].
mlp_points: G = z -> Dense(H, relu) x 2 -> Dense(D); D = x -> Dense(H, relu) x 2 -> Dense(1) logit.
"""

import math

import keras
from keras import layers

from cgan_tf import layers as cgan_layers
from cgan_tf.networks import blocks
from cgan_tf.networks.common import NetworkSpec, output_dtype

HIDDEN = 128
POINT_HIDDEN = 64


def build_mlp(config, g_conditioning, d_conditioning):
  del g_conditioning  # Always concat: the only way it takes the label.
  shape = tuple(config.image_shape)
  conditional = config.num_classes > 0
  sn = config.spectral_norm

  noise = keras.Input((config.latent_dim,), name="noise")
  model_inputs, label = blocks.inputs(config, noise, conditional)
  x = noise
  if conditional:
    x = layers.Concatenate(name="g_noise_label")([noise, blocks.one_hot(label, config.num_classes, "g_one_hot")])
  x = layers.Dense(HIDDEN, activation="relu", name="g_hidden")(x)
  x = layers.Dense(math.prod(shape), activation="sigmoid", dtype=output_dtype(), name="g_image_flat")(x)
  image = layers.Reshape(shape, dtype=output_dtype(), name="g_image")(x)
  generator = keras.Model(model_inputs, image, name="generator")

  image_in = keras.Input(shape, name="image")
  model_inputs, label = blocks.inputs(config, image_in, conditional)
  x = layers.Flatten()(image_in)
  if conditional and d_conditioning == "concat":
    x = layers.Concatenate(name="d_image_label")([x, blocks.one_hot(label, config.num_classes, "d_one_hot")])
  x = cgan_layers.dense(HIDDEN, sn, activation="relu", name="d_hidden")(x)
  logit = blocks.discriminator_output(x, label, config, d_conditioning, sn)
  return generator, keras.Model(model_inputs, logit, name="discriminator")


SPEC = NetworkSpec(
    build_mlp,
    description=("The source material's conditional MLP GAN: one-hot label concatenated with z in G and with "
                 "the flattened image in D, one hidden Dense(128, relu) layer each, sigmoid output."),
    size_divisor=1, output="sigmoid", g_conditionings=("concat",), d_conditionings=("concat", "projection"))


def build_mlp_points(config, g_conditioning, d_conditioning):
  del g_conditioning, d_conditioning  # Unconditional.
  (dims,) = config.image_shape
  sn = config.spectral_norm
  noise = keras.Input((config.latent_dim,), name="noise")
  x = noise
  for index in range(2):
    x = layers.Dense(POINT_HIDDEN, activation="relu", name=f"g_hidden{index}")(x)
  points = layers.Dense(dims, dtype=output_dtype(), name="g_points")(x)
  generator = keras.Model(noise, points, name="generator")

  points_in = keras.Input((dims,), name="points")
  x = points_in
  for index in range(2):
    x = cgan_layers.dense(POINT_HIDDEN, sn, activation="relu", name=f"d_hidden{index}")(x)
  logit = cgan_layers.dense(1, sn, dtype=output_dtype(), name="d_logit")(x)
  return generator, keras.Model(points_in, logit, name="discriminator")


POINTS_SPEC = NetworkSpec(
    build_mlp_points,
    description=("Small Dense stacks for points (the 2-D circle GAN): two hidden Dense(64, relu) layers in G "
                 "and D, linear output. Unconditional."),
    size_divisor=1, output="linear", data_kind="points", g_conditionings=("concat",),
    d_conditionings=("concat",))
