"""Stateless random numbers that are the same with and without XLA, on any device.

TF's stateless ops with alg="philox" give the same *integer* bits everywhere, but their float uniform
and normal transforms differ between XLA and plain kernels (TF 2.21, seen on CPU): the same seed gave
different noise with --xla=on. So floats are made here from the raw bits.
"""

import math

import tensorflow as tf

from cgan_tf.registry import Registry

ALGORITHM = "philox"


def fold_in(seed, data):
  """A new [2] seed from `seed` and an integer, the same under XLA."""
  return tf.random.experimental.stateless_fold_in(seed, data, alg=ALGORITHM)


def uniform_int(shape, seed, maxval):
  """Integers uniform in [0, maxval), int32."""
  return tf.random.stateless_uniform(shape, seed, minval=0, maxval=maxval, dtype=tf.int32, alg=ALGORITHM)


def uniform(shape, seed):
  """float32 uniform in [0, 1): 24 random bits, exactly representable, so the same under XLA."""
  bits = tf.random.stateless_uniform(shape, seed, minval=None, maxval=None, dtype=tf.uint32, alg=ALGORITHM)
  return tf.cast(tf.bitwise.right_shift(bits, 8), tf.float32) * (1.0 / (1 << 24))


def normal(shape, seed):
  """float32 standard normal by Box-Muller on `uniform` (XLA and plain kernels agree to ~1e-6)."""
  shape = tf.concat([[2], tf.cast(shape, tf.int32)], axis=0)
  u = uniform(shape, seed)
  radius = tf.sqrt(-2.0 * tf.math.log1p(-u[0]))  # 1 - u is in (0, 1]: log is finite
  return radius * tf.cos((2.0 * math.pi) * u[1])


# --noise: each maps (shape, seed) to the generator's noise.
NOISE_DISTRIBUTIONS = Registry("noise distribution", {
    "normal": normal,
    # In [-1, 1), as the Keras book's and the MLP GAN's generators take it.
    "uniform": lambda shape, seed: uniform(shape, seed) * 2.0 - 1.0,
})


def latent(shape, seed, distribution="normal"):
  """Generator noise: standard normal, or uniform in [-1, 1).

  Raises:
    ValueError: for an unknown distribution (`registry.UnknownNameError`).
  """
  return NOISE_DISTRIBUTIONS[distribution](shape, seed)


def truncated_latent(shape, seed, distribution="normal", truncation=0.0, max_rounds=10_000):
  """Generator noise with the truncation trick: every component with |z| > `truncation` is redrawn.

  Each redraw comes from the same distribution on a seed folded from `seed`, so components within the
  bound keep their values: raising `truncation` changes fewer components, and without truncation (0)
  this is `latent`. Smaller bounds trade variety for more typical images (Brock et al., BigGAN, 2018).
  Eager code (a Python loop), for sampling, not for the training step.

  Args:
    shape, seed, distribution: as for `latent`.
    truncation: the bound psi > 0; 0 turns truncation off.
    max_rounds: redraw rounds before the rare survivors are clipped to the bound.

  Returns:
    float32 noise of `shape` with every |component| <= truncation.
  """
  noise = latent(shape, seed, distribution)
  if not truncation:
    return noise
  for round_index in range(1, max_rounds + 1):
    outside = tf.abs(noise) > truncation
    if not bool(tf.reduce_any(outside)):
      return noise
    noise = tf.where(outside, latent(shape, fold_in(seed, round_index), distribution), noise)
  return tf.clip_by_value(noise, -truncation, truncation)
