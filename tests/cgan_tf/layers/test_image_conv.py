"""cgan_tf/layers/image_conv.py: the generator's image layer in its depthwise form, the same function as Conv2D."""

import gc
import weakref

import keras
import numpy as np
import pytest
import tensorflow as tf

from cgan_tf import layers as cgan_layers
from cgan_tf import networks
from cgan_tf.config import Config


@pytest.mark.parametrize("filters, kernel_size, dtype", [(1, 7, "float32"), (3, 3, "float32"), (1, 7, "float64")])
def test_image_conv_matches_conv2d_in_output_and_gradients(filters, kernel_size, dtype):
  # The depthwise formulation is the same function as Conv2D with the same weights: output, input
  # gradient and kernel gradient.
  plain = keras.layers.Conv2D(filters, kernel_size, padding="same", activation="tanh", dtype=dtype)
  narrow = cgan_layers.ImageConv2D(filters, kernel_size, padding="same", activation="tanh", dtype=dtype)
  x = tf.cast(tf.random.normal([2, 12, 12, 5], seed=3), dtype)
  plain.build(x.shape)
  narrow.build(x.shape)
  for source, target in zip(plain.weights, narrow.weights):
    target.assign(source)
  upstream = tf.cast(tf.random.normal([2, 12, 12, filters], seed=4), dtype)
  results = []
  for layer in (plain, narrow):
    with tf.GradientTape() as tape:
      tape.watch(x)
      y = layer(x)
      loss = tf.reduce_sum(y * upstream)
    results.append([y] + tape.gradient(loss, [x] + layer.trainable_weights))
  tolerance = 1e-12 if dtype == "float64" else 2e-5
  for expected, got in zip(*results):
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=tolerance, atol=tolerance)


def test_a_step_graph_that_differentiates_the_depthwise_layer_is_freed_with_its_function():
  # A process that trains, exports or evaluates several models (the test suite, a notebook) keeps none of
  # their graphs: what the custom gradient registers for a trace holds the traced op only weakly.
  layer = cgan_layers.ImageConv2D(1, 3, padding="same")
  layer.build([None, 8, 8, 4])
  x = tf.random.normal([2, 8, 8, 4], seed=1)

  def input_gradient(images):
    with tf.GradientTape() as tape:
      tape.watch(images)
      total = tf.reduce_sum(layer(images))
    return tape.gradient(total, images)

  function = tf.function(input_gradient)
  graph = weakref.ref(function.get_concrete_function(x).graph)
  assert function(x).shape == x.shape and graph() is not None
  del function
  gc.collect()
  assert graph() is None


def test_image_conv_falls_back_to_conv2d_where_the_formulation_does_not_apply():
  assert cgan_layers.ImageConv2D(1, 7, padding="same")._narrow()
  assert not cgan_layers.ImageConv2D(1, 4, padding="same")._narrow()  # Even kernel: asymmetric padding.
  assert not cgan_layers.ImageConv2D(1, 3, strides=2, padding="same")._narrow()
  assert not cgan_layers.ImageConv2D(64, 3, padding="same")._narrow()


def test_auto_image_conv_is_depthwise_on_this_cpu_and_keeps_the_weights_of_the_standard_layer():
  assert not tf.config.list_logical_devices("GPU")  # The suite runs on CPUs.
  assert [cgan_layers.resolve_image_conv(f) for f in cgan_layers.IMAGE_CONVS] == ["depthwise", "standard",
                                                                                   "depthwise"]
  # XLA compiles its own convolutions, where the depthwise form is slow: auto keeps the standard layer.
  assert cgan_layers.resolve_image_conv("auto", xla="on") == "standard"
  assert cgan_layers.resolve_image_conv("depthwise", xla="on") == "depthwise"
  with pytest.raises(ValueError, match="image conv formulation"):
    cgan_layers.resolve_image_conv("winograd")
  # One checkpoint for both forms: the same variables under the same paths.
  built = {}
  for formulation in ("auto", "standard"):
    generator, _ = networks.build_networks(Config(image_shape=(28, 28, 1), num_classes=10, latent_dim=8,
                                                  g_filters=16, d_filters=16, image_conv=formulation))
    built[formulation] = generator
  assert type(built["auto"].get_layer("g_image")).__name__ == "ImageConv2D"
  assert type(built["standard"].get_layer("g_image")).__name__ == "Conv2D"
  assert ([(v.path, tuple(v.shape)) for v in built["auto"].weights]
          == [(v.path, tuple(v.shape)) for v in built["standard"].weights])


def test_a_generator_with_the_depthwise_image_conv_saves_and_loads_in_safe_mode(tmp_path):
  config = Config(image_shape=(28, 28, 1), num_classes=10, latent_dim=8, g_filters=16, d_filters=16,
                  image_conv="depthwise")
  generator, _ = networks.build_networks(config)
  assert type(generator.get_layer("g_image")).__name__ == "ImageConv2D"
  path = str(tmp_path / "g.keras")
  generator.save(path)
  loaded = keras.models.load_model(path, safe_mode=True)
  inputs = [tf.random.normal([3, 8], seed=1), tf.constant([1, 5, 9])]
  np.testing.assert_allclose(loaded(inputs).numpy(), generator(inputs).numpy(), atol=1e-6)
