"""Every registered network at 28, 32 and 64 pixels and 1 or 3 channels; the convolutional networks' stages
follow the size."""

import numpy as np
import pytest
import tensorflow as tf

from cgan_tf import networks
from cgan_tf.config import Config, ConfigError
from cgan_tf import validation
from tests.helpers.presets import parse_preset


IMAGE_NETWORKS = sorted(name for name, spec in networks.NETWORKS.items() if spec.data_kind == "image")


@pytest.mark.parametrize("network", IMAGE_NETWORKS)
@pytest.mark.parametrize("size", [28, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_every_network_works_at_common_sizes(network, size, channels):
  config = Config(network=network, image_shape=(size, size, channels), num_classes=4, latent_dim=8)
  generator, discriminator = networks.build_networks(config)
  labels = tf.constant([0, 3], tf.int32)
  images = generator([tf.random.normal([2, 8], seed=1), labels], training=False)
  assert images.shape == (2, size, size, channels) and images.dtype == tf.float32
  low, high = networks.get(network).output_range
  assert low <= float(tf.reduce_min(images)) and float(tf.reduce_max(images)) <= high
  logits = discriminator([images, labels], training=False)
  assert logits.shape == (2, 1) and logits.dtype == tf.float32
  assert np.all(np.isfinite(logits.numpy()))


# Where each convolutional network changes resolution: its i-th up-sampling and down-sampling layer.
RESOLUTION_LAYERS = {"cdcgan": ("g_up{}", "d_down{}"), "resnet": ("g_block{}_up", "d_block{}_pool")}


def factor(layer):
  """How a layer scales the resolution: an up-sampling layer's size, or a convolution's or pool's strides."""
  return tuple(getattr(layer, "size", None) or layer.strides)


@pytest.mark.parametrize("network", sorted(RESOLUTION_LAYERS))
@pytest.mark.parametrize("height,width,stages", [(28, 28, 2), (32, 32, 3), (64, 64, 4), (16, 24, 2),
                                                 (8, 8, 2), (56, 56, 3), (128, 64, 4)])
def test_stages_follow_the_image_size(network, height, width, stages):
  assert networks.upsampling_stages(height, width) == stages
  generator, discriminator = networks.build_networks(Config(network=network, image_shape=(height, width, 3),
                                                            num_classes=2, g_filters=8, d_filters=8))
  base_h, base_w = height // 2 ** stages, width // 2 ** stages
  assert generator.get_layer("g_project").units == base_h * base_w * 8
  up, down = RESOLUTION_LAYERS[network]
  assert [factor(generator.get_layer(up.format(i))) for i in range(stages)] == [(2, 2)] * stages
  assert [factor(discriminator.get_layer(down.format(i))) for i in range(stages)] == [(2, 2)] * stages
  assert up.format(stages) not in {layer.name for layer in generator.layers}
  assert down.format(stages) not in {layer.name for layer in discriminator.layers}


def test_28_pixels_keeps_the_reference_architecture():
  reference = parse_preset("configs/fmnist_reference.cfg", "--run_dir=/unused")
  generator, _ = networks.build_networks(reference.replace(image_shape=(28, 28, 1), num_classes=10))
  assert generator.get_layer("g_project").units == 7 * 7 * 128
  assert generator.get_layer("g_label_projection").units == 7 * 7
  assert sum(1 for layer in generator.layers if layer.name.startswith("g_up")) == 2


@pytest.mark.parametrize("height,width", [(30, 30), (28, 26), (0, 28)])
def test_sizes_it_cannot_make_are_refused(height, width):
  with pytest.raises(ValueError, match="divisible by 4"):
    networks.upsampling_stages(height, width)
  if height:
    with pytest.raises(ConfigError, match="--image_shape"):
      validation.check_architecture(Config(image_shape=(height, width, 3), num_classes=2))
