"""Shapes and dtypes of the registered networks."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from cgan_tf import networks
from cgan_tf.config import Config


@pytest.mark.parametrize("image_shape,num_classes", [((28, 28, 1), 10), ((32, 32, 3), 5), ((16, 24, 1), 3)])
def test_cdcgan_shapes_and_dtypes(image_shape, num_classes):
  config = Config(image_shape=image_shape, num_classes=num_classes, latent_dim=16)
  generator, discriminator = networks.build_networks(config)
  noise = tf.random.normal([4, 16])
  labels = tf.constant([0, num_classes - 1, 1, 0], tf.int32)
  images = generator([noise, labels])
  assert images.shape == (4,) + image_shape
  assert images.dtype == tf.float32
  assert float(tf.reduce_max(tf.abs(images))) <= 1.0  # tanh range
  logits = discriminator([images, labels])
  assert logits.shape == (4, 1)
  assert logits.dtype == tf.float32


def test_cdcgan_is_the_reference_architecture_at_28x28():
  generator, discriminator = networks.build_networks(Config(image_shape=(28, 28, 1), num_classes=10))
  assert generator.get_layer("g_project").units == 7 * 7 * 128
  assert generator.get_layer("g_label_embedding").output_dim == 50
  assert [generator.get_layer(f"g_up{i}").filters for i in range(2)] == [128, 128]
  assert generator.get_layer("g_image").kernel_size == (7, 7)
  assert [discriminator.get_layer(f"d_down{i}").strides for i in range(2)] == [(2, 2), (2, 2)]
  # The labels change the output: conditioning is wired in.
  noise = tf.random.normal([2, 100], seed=1)
  a = generator([noise, tf.constant([0, 0])])
  b = generator([noise, tf.constant([3, 3])])
  assert not np.allclose(a.numpy(), b.numpy())


def test_mixed_precision_keeps_outputs_float32():
  keras.mixed_precision.set_dtype_policy("mixed_float16")
  try:
    generator, discriminator = networks.build_networks(Config(image_shape=(28, 28, 1), num_classes=10))
    images = generator([tf.random.normal([2, 100]), tf.constant([1, 2])])
    logits = discriminator([images, tf.constant([1, 2])])
    assert generator.get_layer("g_up0").compute_dtype == "float16"
    assert all(v.dtype == "float32" for v in generator.trainable_variables)
    assert images.dtype == tf.float32 and logits.dtype == tf.float32
  finally:
    keras.mixed_precision.set_dtype_policy("float32")


def test_unknown_network_is_rejected():
  with pytest.raises(KeyError, match="registered"):
    networks.build_networks(Config(network="nope", image_shape=(28, 28, 1), num_classes=10))
