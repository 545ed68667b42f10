"""`keras_book`: the DCGAN and CGAN of the Keras book (Atienza, Advanced Deep Learning with Keras, ch. 4).

G = [z (, one-hot y)] -> Dense(7x7x128) -> [BN, ReLU, Conv2DTranspose(k=5)] with filters 128, 64, 32, 1 and
strides 2, 2, 1, 1 -> sigmoid, on [0, 1] data. D = [image (, one-hot y -> Dense(H*W) as an extra channel)]
-> [LeakyReLU(0.2), Conv2D(k=5)] with filters 32, 64, 128, 256 and strides 2, 2, 2, 1 -> Flatten -> Dense(1).
The book ends D with a sigmoid and trains it with binary cross-entropy; here D returns the logit and the
non-saturating loss applies the sigmoid inside a softplus, the same function computed stably.
Without labels (num_classes = 0) it is the book's DCGAN. Other sizes get one stride-2 stage per halving.
"""

import keras
from keras import layers

from cgan_tf import layers as cgan_layers
from cgan_tf.networks import blocks
from cgan_tf.networks.common import NetworkSpec, output_dtype

KERNEL = 5
D_FILTERS = (32, 64, 128, 256)
D_STRIDES = (2, 2, 2, 1)


def generator_stages(stages):
  """(filters, strides) of the hidden upsampling blocks: 128, 64, 32 (at least), halving to 32."""
  count = max(stages, 3)
  return [(max(128 // 2 ** i, 32), 2 if i < stages else 1) for i in range(count)]


def generator(config, g_conditioning):
  channels = config.image_shape[2]
  model_inputs, label, x, label_channel, stages = blocks.generator_stem(config, g_conditioning, 128)
  if label_channel is not None:
    x = layers.Concatenate()([x, label_channel])
  for index, (filters, strides) in enumerate(generator_stages(stages) + [(channels, 1)]):
    x = blocks.normalize(x, label, g_conditioning == "cbn", config.num_classes, f"g_norm{index}")
    x = layers.ReLU()(x)
    last = index == len(generator_stages(stages))
    x = layers.Conv2DTranspose(filters, KERNEL, strides=strides, padding="same",
                               dtype=output_dtype() if last else None, name=f"g_up{index}")(x)
  image = layers.Activation("sigmoid", dtype=output_dtype(), name="g_image")(x)
  return keras.Model(model_inputs, image, name="generator")


def discriminator(config, d_conditioning):
  height, width, channels = config.image_shape
  conditional = config.num_classes > 0
  sn = config.spectral_norm
  image = keras.Input((height, width, channels), name="image")
  model_inputs, label = blocks.inputs(config, image, conditional)
  x = image
  if conditional and d_conditioning in ("channel", "concat"):
    x = layers.Concatenate()([x, blocks.label_map(label, config, height, width, "d_label", d_conditioning, sn)])
  for index, (filters, strides) in enumerate(zip(D_FILTERS, D_STRIDES)):
    x = layers.LeakyReLU(0.2)(x)
    x = cgan_layers.conv2d(filters, KERNEL, sn, strides=strides, padding="same", name=f"d_down{index}")(x)
  x = layers.Flatten()(x)
  logit = blocks.discriminator_output(x, label, config, d_conditioning, sn)
  return keras.Model(model_inputs, logit, name="discriminator")


def build_keras_book(config, g_conditioning, d_conditioning):
  return generator(config, g_conditioning), discriminator(config, d_conditioning)


SPEC = NetworkSpec(
    build_keras_book,
    description=("The Keras book's DCGAN (unconditional) and CGAN (one-hot label concatenated with z in G, "
                 "one-hot -> Dense(H*W) channel in D): BN-ReLU-Conv2DTranspose(5) G, sigmoid output."),
    size_divisor=4, output="sigmoid", g_conditionings=("concat", "channel", "cbn"),
    d_conditionings=("concat", "channel", "projection"))
