"""cgan_tf/layers/normalization.py: spectral normalization, conditional batch normalization."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from cgan_tf import layers as cgan_layers
from cgan_tf import networks
from cgan_tf.config import Config
from tests.helpers.linalg import largest_singular_value


@pytest.mark.parametrize("make,inputs,matrix", [
    (lambda: cgan_layers.SNDense(7), np.ones([2, 5], np.float32), lambda layer, k: k),
    (lambda: cgan_layers.SNConv2D(6, 3), np.ones([2, 8, 8, 4], np.float32), lambda layer, k: k.reshape(-1, 6)),
])
def test_spectral_norm_divides_the_kernel_by_its_largest_singular_value(make, inputs, matrix):
  layer = make()
  layer(inputs)
  # A kernel of known spectrum: largest singular value 3 (far from 1, so an untouched kernel fails), the
  # next at most half of it, so that 50 power iterations converge to float32 precision (each divides the
  # error by (sigma_2 / sigma_1)^2 = 4) whatever the layer's random start.
  shape = layer.kernel.shape
  rows = matrix(layer, np.zeros(shape, np.float32)).shape
  rng = np.random.default_rng(0)
  left, _ = np.linalg.qr(rng.normal(size=(rows[0], rows[0])))
  right, _ = np.linalg.qr(rng.normal(size=(rows[1], rows[1])))
  spectrum = np.zeros(rows)
  np.fill_diagonal(spectrum, np.linspace(1.5, 0.2, min(rows)))
  spectrum[0, 0] = 3.0
  kernel = (left @ spectrum @ right.T).astype(np.float32).reshape(shape)
  layer.kernel.assign(kernel)
  sigma = largest_singular_value(matrix(layer, kernel))
  assert sigma == pytest.approx(3.0, rel=1e-5)
  for _ in range(50):  # Power iterations, as 50 discriminator updates would run them.
    layer.update_spectral_norm()
  normalized = layer.normalized_kernel(layer.kernel).numpy()
  np.testing.assert_allclose(normalized, kernel / sigma, rtol=1e-4, atol=1e-6)
  assert largest_singular_value(matrix(layer, normalized)) == pytest.approx(1.0, abs=1e-4)


def test_spectral_norm_output_is_the_plain_layer_with_the_normalized_kernel():
  layer = cgan_layers.SNDense(3, activation="relu")
  x = np.random.default_rng(0).normal(size=(4, 5)).astype(np.float32)
  out = layer(x).numpy()
  expected = np.maximum(x @ layer.normalized_kernel(layer.kernel).numpy() + layer.bias.numpy(), 0)
  np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


def test_spectral_norm_gradient_treats_the_singular_vectors_as_constants():
  """d sigma / dW = u v^T (Miyato et al.): the gradient of sum(W_sn * G) matches the closed form."""
  layer = cgan_layers.SNDense(4)
  layer(np.ones([1, 6], np.float32))
  upstream = tf.constant(np.random.default_rng(1).normal(size=(6, 4)), tf.float32)
  with tf.GradientTape() as tape:
    objective = tf.reduce_sum(layer.normalized_kernel(layer.kernel) * upstream)
  gradient = tape.gradient(objective, layer.kernel).numpy()
  kernel = layer.kernel.numpy().astype(np.float64)
  u, v = (t.numpy().astype(np.float64) for t in layer._singular_vectors(layer.kernel))
  sigma = float(v @ kernel @ u)
  g = upstream.numpy().astype(np.float64)
  expected = g / sigma - (np.sum(g * kernel) / sigma ** 2) * np.outer(v, u)
  np.testing.assert_allclose(gradient, expected, rtol=1e-4, atol=1e-6)


def test_conditional_batch_norm_scales_and_shifts_by_class():
  layer = cgan_layers.ConditionalBatchNorm(3)
  x = np.random.default_rng(2).normal(2.0, 3.0, size=(8, 4, 4, 5)).astype(np.float32)
  labels = np.array([0, 1, 2, 0, 1, 2, 0, 1], np.int32)
  layer([x, labels])
  gamma = np.random.default_rng(3).normal(size=(3, 5)).astype(np.float32)
  beta = np.random.default_rng(4).normal(size=(3, 5)).astype(np.float32)
  layer.gamma.assign(gamma)
  layer.beta.assign(beta)
  out = layer([x, labels], training=True).numpy()
  mean, var = x.mean(axis=(0, 1, 2)), x.var(axis=(0, 1, 2))
  normalized = (x - mean) / np.sqrt(var + layer.epsilon)
  expected = normalized * (1 + gamma[labels])[:, None, None, :] + beta[labels][:, None, None, :]
  np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)


def test_a_generator_with_conditional_batch_norm_saves_and_loads_in_safe_mode(tmp_path):
  config = Config(image_shape=(28, 28, 1), num_classes=10, g_conditioning="cbn", latent_dim=8)
  generator, _ = networks.build_networks(config)
  path = str(tmp_path / "g.keras")
  generator.save(path)
  loaded = keras.models.load_model(path, safe_mode=True)
  inputs = [tf.random.normal([3, 8], seed=1), tf.constant([1, 5, 9])]
  np.testing.assert_allclose(loaded(inputs).numpy(), generator(inputs).numpy(), atol=1e-6)
