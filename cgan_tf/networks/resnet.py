"""`resnet`: the residual pair of SNGAN-projection and BigGAN (Miyato et al. 2018; Miyato & Koyama 2018;
Brock et al. 2019), sized from the image like `cdcgan`.

G = noise -> Dense to a [base_h, base_w, g_filters] map (7x7 at 28 pixels, 4x4 at 32 and 64) -> one
residual up-sampling block per stage -> BN -> ReLU -> Conv2D(3x3) -> tanh. A block is
CBN -> ReLU -> upsample -> Conv2D(3x3) -> CBN -> ReLU -> Conv2D(3x3), plus a shortcut of the upsampled
input through a 1x1 convolution. Every batch normalization inside the blocks is conditional on the class
(a scale and offset per class), which is how the label enters G; the last one is a plain batch
normalization, as in both papers, so the image layer sees the same statistics for every class.

D = one residual down-sampling block per stage (ReLU -> Conv2D(3x3) -> ReLU -> Conv2D(3x3) -> average
pool, with a 1x1 convolution and average pool as the shortcut; the first block starts at the image with no
ReLU and pools its shortcut before the 1x1 convolution, SNGAN's "optimized" block), one block at the
final resolution without down-sampling (identity shortcut), ReLU, a sum over space, and the projection
logit psi(h) + <embed(y), h>. With --spectral_norm every convolution, the dense layer and the class
embedding are spectrally normalized.

Widths: every G block has --g_filters channels, every D block --d_filters. SNGAN's CIFAR-10 pair used
256 and 128; on a CPU, 64 and 64 (configs/fmnist_resnet.cfg) keep a step affordable. Its usual partner
is --loss=hinge --spectral_norm with Adam(2e-4, beta_1=0, beta_2=0.9), --d_steps=5 and a linear
learning-rate decay to zero (--lr_schedule=linear).
"""

import keras
from keras import layers

from cgan_tf import layers as cgan_layers
from cgan_tf.networks import blocks
from cgan_tf.networks.common import NetworkSpec, output_dtype, upsampling_stages


def _generator_block(x, label, filters, num_classes, name):
  """A residual up-sampling block; its batch normalizations are class-conditional when `label` is given."""
  shortcut = layers.UpSampling2D(2, name=f"{name}_shortcut_up")(x)
  shortcut = layers.Conv2D(filters, 1, name=f"{name}_shortcut")(shortcut)
  h = blocks.normalize(x, label, True, num_classes, f"{name}_bn0")
  h = layers.ReLU(name=f"{name}_relu0")(h)
  h = layers.UpSampling2D(2, name=f"{name}_up")(h)
  # No bias: the batch normalization right after it would subtract it again.
  h = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv0")(h)
  h = blocks.normalize(h, label, True, num_classes, f"{name}_bn1")
  h = layers.ReLU(name=f"{name}_relu1")(h)
  h = layers.Conv2D(filters, 3, padding="same", name=f"{name}_conv1")(h)
  return layers.Add(name=f"{name}_add")([h, shortcut])


def _discriminator_block(x, filters, spectral_norm, name, first=False, downsample=True):
  """A residual block of D: down-sampling unless told otherwise; `first` is SNGAN's block at the image."""
  h = x if first else layers.ReLU(name=f"{name}_relu0")(x)
  h = cgan_layers.conv2d(filters, 3, spectral_norm, padding="same", name=f"{name}_conv0")(h)
  h = layers.ReLU(name=f"{name}_relu1")(h)
  h = cgan_layers.conv2d(filters, 3, spectral_norm, padding="same", name=f"{name}_conv1")(h)
  if downsample:
    h = layers.AveragePooling2D(2, name=f"{name}_pool")(h)
  shortcut = x
  if first:
    # Pooling before the 1x1 convolution is the same map at a quarter of the cost.
    shortcut = layers.AveragePooling2D(2, name=f"{name}_shortcut_pool")(shortcut)
    shortcut = cgan_layers.conv2d(filters, 1, spectral_norm, name=f"{name}_shortcut")(shortcut)
  elif downsample or x.shape[-1] != filters:
    shortcut = cgan_layers.conv2d(filters, 1, spectral_norm, name=f"{name}_shortcut")(shortcut)
    if downsample:
      shortcut = layers.AveragePooling2D(2, name=f"{name}_shortcut_pool")(shortcut)
  return layers.Add(name=f"{name}_add")([h, shortcut])


def generator(config, g_conditioning):
  channels = config.image_shape[2]
  model_inputs, label, x, _, stages = blocks.generator_stem(config, g_conditioning, config.g_filters)
  for stage in range(stages):
    x = _generator_block(x, label, config.g_filters, config.num_classes, f"g_block{stage}")
  x = cgan_layers.batch_normalization(name="g_bn_out")(x)
  x = layers.ReLU(name="g_relu_out")(x)
  image = cgan_layers.image_conv2d(channels, 3, config.image_conv, config.xla, padding="same", activation="tanh",
                                   dtype=output_dtype(), name="g_image")(x)
  return keras.Model(model_inputs, image, name="generator")


def discriminator(config, d_conditioning):
  height, width, channels = config.image_shape
  stages = upsampling_stages(height, width)
  sn = config.spectral_norm
  image = keras.Input((height, width, channels), name="image")
  model_inputs, label = blocks.inputs(config, image, config.num_classes > 0)
  x = image
  for stage in range(stages):
    x = _discriminator_block(x, config.d_filters, sn, f"d_block{stage}", first=stage == 0)
  x = cgan_layers.minibatch_std(config.d_minibatch_std, name="d_minibatch_std")(x)
  x = _discriminator_block(x, config.d_filters, sn, f"d_block{stages}", downsample=False)
  x = layers.ReLU(name="d_relu_out")(x)
  # The sum over space (SNGAN's), as an average times the area: two stock layers that load in safe mode.
  # In float32 under a mixed policy: it feeds the logit, and a sum of many float16 terms loses digits.
  area = x.shape[1] * x.shape[2]
  x = layers.GlobalAveragePooling2D(dtype=output_dtype(), name="d_pool")(x)
  x = layers.Rescaling(float(area), dtype=output_dtype(), name="d_sum")(x)
  logit = blocks.discriminator_output(x, label, config, d_conditioning, sn)
  return keras.Model(model_inputs, logit, name="discriminator")


def build_resnet(config, g_conditioning, d_conditioning):
  return generator(config, g_conditioning), discriminator(config, d_conditioning)


SPEC = NetworkSpec(
    build_resnet,
    description=("The SNGAN-projection / BigGAN residual pair: G of residual up-sampling blocks with "
                 "class-conditional batch norm, D of residual down-sampling blocks with the projection "
                 "logit (use with --loss=hinge --spectral_norm)."),
    size_divisor=4, g_conditionings=("cbn",), d_conditionings=("projection",), minibatch_std=True)
