"""The loss functions on known values."""

import numpy as np
import pytest
import tensorflow as tf

from cgan_tf import losses

LOG2 = np.log(2.0)


def test_nonsaturating_at_zero_logits_is_log2_per_term():
  zeros = tf.zeros([3, 1])
  np.testing.assert_allclose(losses.nonsaturating_discriminator_loss(zeros, zeros), [2 * LOG2] * 3, rtol=1e-6)
  np.testing.assert_allclose(losses.nonsaturating_generator_loss(zeros), [LOG2] * 3, rtol=1e-6)


def test_nonsaturating_matches_binary_cross_entropy():
  real = tf.constant([[2.0], [-1.0]])
  fake = tf.constant([[0.5], [-3.0]])
  bce = lambda y, logits: tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=logits)[:, 0]
  expected_d = bce(tf.ones([2, 1]), real) + bce(tf.zeros([2, 1]), fake)
  np.testing.assert_allclose(losses.nonsaturating_discriminator_loss(real, fake), expected_d, rtol=1e-6)
  np.testing.assert_allclose(losses.nonsaturating_generator_loss(fake), bce(tf.ones([2, 1]), fake), rtol=1e-6)


def test_hinge_values():
  real = tf.constant([[2.0], [0.5]])
  fake = tf.constant([[-2.0], [0.25]])
  np.testing.assert_allclose(losses.hinge_discriminator_loss(real, fake), [0.0, 0.5 + 1.25])
  np.testing.assert_allclose(losses.hinge_generator_loss(fake), [2.0, -0.25])


def test_least_squares_values():
  real = tf.constant([[1.0], [0.0]])
  fake = tf.constant([[0.0], [2.0]])
  np.testing.assert_allclose(losses.least_squares_discriminator_loss(real, fake), [0.0, 0.5 + 2.0])
  np.testing.assert_allclose(losses.least_squares_generator_loss(fake), [0.5, 0.5])


def test_losses_are_per_example_and_float32():
  for pair in losses.LOSSES.values():
    d = pair.discriminator(tf.zeros([5, 1], tf.float16), tf.zeros([5, 1], tf.float16))
    g = pair.generator(tf.zeros([5, 1], tf.float16))
    assert d.shape == (5,) and g.shape == (5,)
    assert d.dtype == tf.float32 and g.dtype == tf.float32


def test_unknown_loss():
  with pytest.raises(KeyError, match="nonsaturating"):
    losses.get("wasserstein-ish")


def test_wasserstein_values():
  real = tf.constant([[2.0], [-1.0]])
  fake = tf.constant([[0.5], [3.0]])
  np.testing.assert_allclose(losses.wasserstein_discriminator_loss(real, fake), [0.5 - 2.0, 3.0 + 1.0])
  np.testing.assert_allclose(losses.wasserstein_generator_loss(fake), [-0.5, -3.0])


def test_float64_logits_stay_float64_and_half_precision_becomes_float32():
  assert losses.hinge_generator_loss(tf.zeros([2, 1], tf.float64)).dtype == tf.float64
  assert losses.hinge_generator_loss(tf.zeros([2, 1], tf.float16)).dtype == tf.float32
