"""Shapes and dtypes of the registered networks, their conditioning, mixed precision and saving."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from cgan_tf import networks
from cgan_tf.config import Config
from tests.helpers.presets import parse_preset

# The convolutional image networks, small: what is checked here does not depend on the width.
CONV_NETWORKS = ("cdcgan", "resnet")
SMALL = dict(latent_dim=16, g_filters=16, d_filters=16)


def build(network, image_shape=(28, 28, 1), num_classes=10, **changes):
  config = Config(network=network, image_shape=image_shape, num_classes=num_classes,
                  unconditional=num_classes == 0, **dict(SMALL, **changes))
  return networks.build_networks(config)


def network_inputs(sample, labels, num_classes):
  return [sample, labels] if num_classes else sample


@pytest.mark.parametrize("network", CONV_NETWORKS)
@pytest.mark.parametrize("image_shape,num_classes", [((28, 28, 1), 10), ((32, 32, 3), 5), ((64, 64, 1), 3),
                                                     ((16, 24, 1), 3), ((28, 28, 1), 0), ((32, 32, 3), 0)])
def test_shapes_and_dtypes(network, image_shape, num_classes):
  generator, discriminator = build(network, image_shape, num_classes, spectral_norm=True)
  noise = tf.random.normal([4, 16])
  labels = tf.constant([0, max(num_classes - 1, 0), 1 if num_classes > 1 else 0, 0], tf.int32)
  images = generator(network_inputs(noise, labels, num_classes))
  assert images.shape == (4,) + image_shape
  assert images.dtype == tf.float32
  assert float(tf.reduce_max(tf.abs(images))) <= 1.0  # tanh range
  logits = discriminator(network_inputs(images, labels, num_classes))
  assert logits.shape == (4, 1)
  assert logits.dtype == tf.float32
  assert len(generator.inputs) == len(discriminator.inputs) == (2 if num_classes else 1)


@pytest.mark.parametrize("network", CONV_NETWORKS)
def test_the_label_changes_the_image_and_the_logit(network):
  generator, discriminator = build(network)
  # Conditional batch normalization starts at the identity for every class: give each class its own.
  for variable in generator.trainable_variables + discriminator.trainable_variables:
    if variable.path.endswith(("gamma", "beta")) and len(variable.shape) == 2:
      variable.assign(tf.random.normal(variable.shape, stddev=0.5, seed=3))
  noise = tf.random.normal([2, 16], seed=1)
  a = generator([noise, tf.constant([0, 0])])
  b = generator([noise, tf.constant([3, 3])])
  assert not np.allclose(a.numpy(), b.numpy())
  logit_a = discriminator([a, tf.constant([0, 0])])
  logit_b = discriminator([a, tf.constant([3, 3])])
  assert not np.allclose(logit_a.numpy(), logit_b.numpy())


@pytest.mark.parametrize("network", CONV_NETWORKS)
def test_with_minibatch_std_d_judges_an_image_by_its_group(network):
  noise, labels = tf.random.normal([2, 16], seed=1), tf.constant([4, 4])
  for group_size in (0, 2):
    generator, discriminator = build(network, d_minibatch_std=group_size)
    images = generator([noise, labels])
    alone = discriminator([tf.stack([images[0], images[1]]), labels]).numpy()[0]
    among_copies = discriminator([tf.stack([images[0], images[0]]), labels]).numpy()[0]
    # The same image: its logit changes with its group's other member only when D sees the group's spread.
    assert np.allclose(alone, among_copies, atol=1e-6) == (group_size == 0)
  assert discriminator.get_layer("d_minibatch_std").group_size == 2


def test_cdcgan_is_the_reference_architecture_at_28x28():
  # The reference recipe is a preset, spelling out what the defaults (the recommended recipe) change.
  reference = parse_preset("configs/fmnist_reference.cfg", "--run_dir=/unused")
  generator, discriminator = networks.build_networks(reference.replace(image_shape=(28, 28, 1), num_classes=10))
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


@pytest.mark.parametrize("network", CONV_NETWORKS)
@pytest.mark.parametrize("policy,compute_dtype", [("mixed_float16", "float16"), ("mixed_bfloat16", "bfloat16")])
@pytest.mark.parametrize("num_classes", [10, 0])
def test_mixed_precision_keeps_outputs_float32(network, policy, compute_dtype, num_classes):
  keras.mixed_precision.set_dtype_policy(policy)  # tests/conftest.py restores float32 after the test.
  generator, discriminator = build(network, num_classes=num_classes, spectral_norm=True, d_minibatch_std=2)
  labels = tf.constant([1, 2])
  images = generator(network_inputs(tf.random.normal([2, 16]), labels, num_classes), training=True)
  logits = discriminator(network_inputs(images, labels, num_classes), training=True)
  assert any(layer.compute_dtype == compute_dtype for layer in generator.layers)
  assert any(layer.compute_dtype == compute_dtype for layer in discriminator.layers)
  assert all(v.dtype == "float32" for v in generator.trainable_variables + discriminator.trainable_variables)
  assert images.dtype == tf.float32 and logits.dtype == tf.float32
  assert np.all(np.isfinite(logits.numpy()))


@pytest.mark.parametrize("network", CONV_NETWORKS)
def test_both_networks_save_and_load_in_safe_mode(network, tmp_path):
  generator, discriminator = build(network, spectral_norm=True, d_minibatch_std=3)
  noise, labels = tf.random.normal([3, 16], seed=1), tf.constant([1, 5, 9])
  images = generator([noise, labels])
  for model, inputs in ((generator, [noise, labels]), (discriminator, [images, labels])):
    path = str(tmp_path / f"{model.name}.keras")
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    np.testing.assert_allclose(loaded(inputs).numpy(), model(inputs).numpy(), atol=1e-5)


def test_unknown_network_is_rejected():
  with pytest.raises(KeyError, match="registered"):
    networks.build_networks(Config(network="nope", image_shape=(28, 28, 1), num_classes=10))
