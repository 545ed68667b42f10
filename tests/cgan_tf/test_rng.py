"""The noise stream is the same with and without XLA, and is standard normal."""

import numpy as np
import pytest
import tensorflow as tf

from cgan_tf import rng

SEED = tf.constant([11, 3], tf.int64)


def test_normal_agrees_with_and_without_xla():
  draw = lambda seed: rng.normal([256, 64], seed)
  plain, compiled = draw(SEED), tf.function(draw, jit_compile=True)(SEED)
  np.testing.assert_allclose(compiled, plain, atol=2e-6)
  # tf.random.stateless_normal does not have this property, which is why rng exists:
  stock = lambda seed: tf.random.stateless_normal([256, 64], seed, alg="philox")
  assert not np.allclose(stock(SEED), tf.function(stock, jit_compile=True)(SEED), atol=1e-3)


def test_integers_and_fold_in_are_identical_under_xla():
  draw = lambda seed: rng.uniform_int([500], rng.fold_in(seed, 7), 10)
  np.testing.assert_array_equal(draw(SEED), tf.function(draw, jit_compile=True)(SEED))


def test_normal_statistics_and_seed_dependence():
  x = rng.normal([200000], SEED).numpy()
  assert abs(x.mean()) < 0.01 and abs(x.std() - 1) < 0.01
  assert abs(np.mean(x ** 3)) < 0.03 and abs(np.mean(x ** 4) - 3) < 0.06  # skew 0, kurtosis 3
  assert np.all(np.isfinite(x))
  assert not np.allclose(rng.normal([10], SEED), rng.normal([10], rng.fold_in(SEED, 1)))
  np.testing.assert_array_equal(rng.normal([10], SEED), rng.normal([10], SEED))


def test_uniform_range():
  u = rng.uniform([100000], SEED).numpy()
  assert u.min() >= 0.0 and u.max() < 1.0 and abs(u.mean() - 0.5) < 0.01


@pytest.mark.parametrize("distribution", ["normal", "uniform"])
def test_truncation_redraws_only_the_components_beyond_the_bound(distribution):
  full = rng.latent([64, 100], SEED, distribution).numpy()
  truncated = rng.truncated_latent([64, 100], SEED, distribution, truncation=0.5).numpy()
  assert np.all(np.abs(truncated) <= 0.5)
  inside = np.abs(full) <= 0.5
  np.testing.assert_array_equal(truncated[inside], full[inside])
  assert not np.array_equal(truncated[~inside], full[~inside])
  # Redrawn values follow the distribution conditioned on the bound, not a pile-up at the bound.
  assert np.mean(np.abs(truncated[~inside]) > 0.49) < 0.1
  np.testing.assert_array_equal(rng.truncated_latent([64, 100], SEED, distribution, truncation=0.0), full)
