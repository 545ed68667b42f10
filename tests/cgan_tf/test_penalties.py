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


# --- The mode-seeking penalty on the generator ---------------------------------------------------


def test_mode_seeking_penalty_is_the_inverse_distance_ratio_of_each_pair():
  # Pair 0: images 0.5 apart in every pixel, noise 2 apart: ratio 0.25, penalty 1 / 0.25 = 4.
  # Pair 1: images 1 apart in half the pixels (mean 0.5), noise 0.5 apart: ratio 1, penalty 1.
  images = np.zeros([4, 2, 2, 1], np.float32)
  images[1] = 0.5
  images[3, 0] = 1.0
  noise = np.zeros([4, 3], np.float32)
  noise[1] = 2.0
  noise[3] = [0.5, -0.5, 0.5]
  penalty = penalties.mode_seeking_penalty(tf.constant(images), tf.constant(noise)).numpy()
  epsilon = penalties.MODE_SEEKING_EPSILON
  np.testing.assert_allclose(penalty, [1 / (0.25 + epsilon)] * 2 + [1 / (1 + epsilon)] * 2, rtol=1e-6)


def test_mode_seeking_penalty_of_a_collapsed_pair_is_large():
  """The failure the penalty exists for: two noise vectors of one label giving the same image."""
  images = tf.constant(np.random.default_rng(5).uniform(-1, 1, size=(2, 4, 4, 1)), tf.float32)
  collapsed = tf.concat([images[:1], images[:1]], axis=0)
  noise = tf.constant(np.random.default_rng(6).normal(size=(2, 8)), tf.float32)
  assert penalties.mode_seeking_penalty(collapsed, noise).numpy() == pytest.approx(
      [1 / penalties.MODE_SEEKING_EPSILON] * 2)
  assert np.all(penalties.mode_seeking_penalty(images, noise).numpy() < 100)


def test_mode_seeking_penalty_pairs_adjacent_rows_only():
  # Rows 0 and 1 are identical, rows 1 and 2 differ: pairing (1, 2) would give a small penalty for pair 0.
  images = tf.constant([[0.0], [0.0], [1.0], [0.0]])
  noise = tf.constant([[0.0], [1.0], [0.0], [1.0]])
  penalty = penalties.mode_seeking_penalty(images, noise).numpy()
  assert penalty[0] == penalty[1] == pytest.approx(1 / penalties.MODE_SEEKING_EPSILON)
  assert penalty[2] == penalty[3] == pytest.approx(1 / (1 + penalties.MODE_SEEKING_EPSILON))


@pytest.mark.parametrize("dtype", [tf.float16, tf.bfloat16, tf.float32, tf.float64])
def test_mode_seeking_penalty_is_float32_or_float64_and_pushes_the_pair_apart(dtype):
  images = tf.Variable(np.array([[0.2, 0.4], [0.3, 0.1]]), dtype=dtype)
  noise = tf.constant([[1.0, 0.0], [0.0, 1.0]])
  with tf.GradientTape() as tape:
    penalty = penalties.mode_seeking_penalty(images, noise)
    total = tf.reduce_sum(penalty)
  assert penalty.dtype == (tf.float64 if dtype == tf.float64 else tf.float32)
  gradient = tf.cast(tape.gradient(total, images), tf.float32).numpy()
  # Descending the penalty moves each image away from its partner: image 0 down where it is below image 1.
  step = -gradient
  difference = (images[0] - images[1]).numpy().astype(np.float32)
  assert np.all(np.sign(step[0] - step[1]) == np.sign(difference))
