"""Gradient penalties on critics whose input gradients are known in closed form, and under float16 and
bfloat16 the same penalties as in float32 (the inner gradient loss-scaled, so it does not underflow)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from cgan_tf import distribute
from cgan_tf import penalties

WEIGHTS = np.array([[0.5], [-1.5], [2.0], [1.0]], np.float32)  # ||w|| = sqrt(7.5)


def linear_critic(x):
  """D(x) = w . x: its input gradient is w for every example."""
  return tf.matmul(x, WEIGHTS)


def quadratic_critic(x):
  """D(x) = 0.5 ||x||^2: its input gradient is x itself, different for each example."""
  return 0.5 * tf.reduce_sum(tf.square(x), axis=1, keepdims=True)


def test_r1_is_the_squared_input_gradient_norm_per_example():
  x = tf.constant(np.random.default_rng(0).normal(size=(5, 4)), tf.float32)
  np.testing.assert_allclose(penalties.r1_penalty(linear_critic, x).numpy(), np.full(5, 7.5), rtol=1e-6)
  np.testing.assert_allclose(penalties.r1_penalty(quadratic_critic, x).numpy(),
                             np.sum(x.numpy() ** 2, axis=1), rtol=1e-5)


def test_gradient_penalty_is_the_squared_distance_of_the_norm_from_one():
  real = tf.constant(np.random.default_rng(1).normal(size=(3, 4)), tf.float32)
  fake = tf.constant(np.random.default_rng(2).normal(size=(3, 4)), tf.float32)
  alpha = tf.constant([0.0, 0.3, 1.0])
  np.testing.assert_allclose(penalties.gradient_penalty(linear_critic, real, fake, alpha).numpy(),
                             np.full(3, (np.sqrt(7.5) - 1) ** 2), rtol=1e-5)
  # For the quadratic critic the gradient at x_hat is x_hat: the penalty is (||x_hat|| - 1)^2.
  x_hat = alpha.numpy()[:, None] * real.numpy() + (1 - alpha.numpy()[:, None]) * fake.numpy()
  np.testing.assert_allclose(penalties.gradient_penalty(quadratic_critic, real, fake, alpha).numpy(),
                             (np.linalg.norm(x_hat, axis=1) - 1) ** 2, rtol=1e-5)


def test_interpolation_endpoints_are_real_and_fake():
  real, fake = tf.ones([2, 3, 3, 1]), tf.zeros([2, 3, 3, 1])
  mixed = penalties.interpolate(real, fake, tf.constant([1.0, 0.25])).numpy()
  assert np.all(mixed[0] == 1.0) and np.allclose(mixed[1], 0.25)


def test_penalties_work_inside_a_conditional_branch_of_a_graph():
  """Lazy R1 runs the penalty inside tf.cond; a gradient of a captured tensor would be None there."""
  x = tf.constant(np.random.default_rng(3).normal(size=(2, 4)), tf.float32)

  @tf.function
  def lazy(step):
    return tf.cond(tf.equal(step % 4, 0), lambda: penalties.r1_penalty(quadratic_critic, x), lambda: tf.zeros([2]))

  np.testing.assert_allclose(lazy(tf.constant(8)).numpy(), np.sum(x.numpy() ** 2, axis=1), rtol=1e-5)
  assert np.all(lazy(tf.constant(9)).numpy() == 0)


@pytest.mark.parametrize("penalty", ["r1", "gp"])
def test_the_penalty_has_a_gradient_for_the_critics_weights(penalty):
  """The penalty must train D: its gradient with respect to D's weights exists and is not zero."""
  w = tf.Variable(WEIGHTS)
  critic = lambda x: tf.matmul(x, w)  # noqa: E731
  x = tf.constant(np.random.default_rng(4).normal(size=(3, 4)), tf.float32)
  with tf.GradientTape() as tape:
    value = (penalties.r1_penalty(critic, x) if penalty == "r1"
             else penalties.gradient_penalty(critic, x, x * 0.5, tf.constant([0.5, 0.5, 0.5])))
    total = tf.reduce_sum(value)
  gradient = tape.gradient(total, w).numpy()
  expected = 2 * 3 * WEIGHTS if penalty == "r1" else 3 * 2 * (np.sqrt(7.5) - 1) * WEIGHTS / np.sqrt(7.5)
  np.testing.assert_allclose(gradient, expected, rtol=1e-4)


# --- Under float16 and bfloat16 -------------------------------------------------------------------

def _critic(seed):
  critic = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, padding="same"),
                             keras.layers.LeakyReLU(0.2), keras.layers.Flatten(),
                             keras.layers.Dense(1, dtype="float32")])
  return critic


def _penalty_pair(policy_name, weights, real, fake, alpha, scale):
  distribute.set_precision(policy_name)
  critic = _critic(0)
  critic.set_weights(weights)
  return (penalties.r1_penalty(critic, real, scale).numpy(),
          penalties.gradient_penalty(critic, real, fake, alpha, scale).numpy())


def test_penalties_under_mixed_precision_match_float32(policy):
  rng = np.random.default_rng(0)
  real = tf.constant(rng.normal(size=(4, 8, 8, 1)), tf.float32)
  fake = tf.constant(rng.normal(size=(4, 8, 8, 1)), tf.float32)
  alpha = tf.constant([0.1, 0.4, 0.7, 1.0])
  policy("float32")
  weights = _critic(0).get_weights()
  # A critic whose input gradients (~1e-9 per pixel) are below float16's smallest subnormal (6e-8):
  # unscaled, its backward pass in float16 loses them whatever the CPU's float16 arithmetic. (At ~1e-8
  # they were subnormal, and how much of them survived varied between CPUs and runs, 8-11%.)
  weights[-2] = weights[-2] * 1e-7
  r1_32, gp_32 = _penalty_pair("float32", weights, real, fake, alpha, 1.0)
  assert np.all(r1_32 > 0)
  r1_16, gp_16 = _penalty_pair("mixed_float16", weights, real, fake, alpha, 2.0 ** 15)
  np.testing.assert_allclose(r1_16, r1_32, rtol=2e-2)
  np.testing.assert_allclose(gp_16, gp_32, rtol=2e-2)
  # Without the loss scale the float16 penalty is visibly wrong: the test above can fail.
  r1_unscaled, _ = _penalty_pair("mixed_float16", weights, real, fake, alpha, 1.0)
  assert np.max(np.abs(r1_unscaled - r1_32) / r1_32) > 0.1
  # bfloat16 has float32's range: no scale needed, only its 8-bit mantissa's rounding.
  r1_bf16, gp_bf16 = _penalty_pair("mixed_bfloat16", weights, real, fake, alpha, 1.0)
  np.testing.assert_allclose(r1_bf16, r1_32, rtol=5e-2)
  np.testing.assert_allclose(gp_bf16, gp_32, rtol=5e-2)
