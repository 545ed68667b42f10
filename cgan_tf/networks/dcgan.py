"""`cdcgan`: the source material's conditional DCGAN for Fashion-MNIST, generalized (sizes, channels,
classes, unconditional) and open to the modern options (conditioning, spectral normalization).

At 28x28 with the default options (--g_filters=--d_filters=128) it is the reference network exactly: G = noise -> Dense(7x7x128) ->
LeakyReLU(0.2), label -> Embedding(50) -> Dense(49) as an extra 7x7 channel, two stride-2
Conv2DTranspose(128, 4) + LeakyReLU(0.2), Conv2D(7x7) tanh; D = label -> Embedding(50) -> Dense(784) as an
extra channel, two stride-2 Conv2D(128, 3) + LeakyReLU(0.2), Dropout(0.4), Dense(1) logit.
"""

import keras
from keras import layers

from cgan_tf import layers as cgan_layers
from cgan_tf.networks import blocks
from cgan_tf.networks.common import NetworkSpec, output_dtype, upsampling_stages


def generator(config, g_conditioning):
  channels = config.image_shape[2]
  model_inputs, label, x, label_channel, stages = blocks.generator_stem(config, g_conditioning, config.g_filters)
  cbn = label is not None and g_conditioning == "cbn"

  def activate(x, name):
    # With conditional batch normalization every stage is normalized per class before its activation.
    if cbn:
      x = blocks.normalize(x, label, True, config.num_classes, f"cbn_{name}")
    return layers.LeakyReLU(0.2, name=f"leaky_{name}")(x)

  x = activate(x, "g_project")
  if label_channel is not None:
    x = layers.Concatenate()([x, label_channel])
  for stage in range(stages):
    x = layers.Conv2DTranspose(config.g_filters, 4, strides=2, padding="same", name=f"g_up{stage}")(x)
    x = activate(x, f"g_up{stage}")
  image = cgan_layers.image_conv2d(channels, 7, config.image_conv, config.xla, padding="same", activation="tanh",
                                   dtype=output_dtype(), name="g_image")(x)
  return keras.Model(model_inputs, image, name="generator")


def discriminator(config, d_conditioning):
  height, width, channels = config.image_shape
  stages = upsampling_stages(height, width)
  conditional = config.num_classes > 0
  sn = config.spectral_norm
  image = keras.Input((height, width, channels), name="image")
  model_inputs, label = blocks.inputs(config, image, conditional)
  x = image
  if conditional and d_conditioning in ("channel", "concat"):
    x = layers.Concatenate()([x, blocks.label_map(label, config, height, width, "d_label", d_conditioning, sn)])
  for stage in range(stages):
    if stage == stages - 1:
      x = cgan_layers.minibatch_std(config.d_minibatch_std, name="d_minibatch_std")(x)
    x = cgan_layers.conv2d(config.d_filters, 3, sn, strides=2, padding="same", name=f"d_down{stage}")(x)
    x = layers.LeakyReLU(0.2)(x)
  x = layers.Flatten()(x)
  x = cgan_layers.dropout(config.d_dropout)(x)
  logit = blocks.discriminator_output(x, label, config, d_conditioning, sn)
  return keras.Model(model_inputs, logit, name="discriminator")


def build_cdcgan(config, g_conditioning, d_conditioning):
  return generator(config, g_conditioning), discriminator(config, d_conditioning)


SPEC = NetworkSpec(
    build_cdcgan,
    description=("The reference conditional DCGAN (Embedding(50) label channels, stride-2 stages from a small "
                 "starting resolution: two from 7x7 at 28x28, three at 32x32, four at 64x64)."),
    size_divisor=4, g_conditionings=("channel", "concat", "cbn"),
    d_conditionings=("channel", "concat", "projection"), minibatch_std=True)
