"""DiffAugment's maths: each policy on known inputs, gradients through it, and replica slicing."""

import numpy as np
import pytest
import tensorflow as tf

from cgan_tf import augment


def ramp(batch=2, height=8, width=8, channels=1):
  values = np.arange(batch * height * width * channels, dtype=np.float32) + 1.0
  return values.reshape(batch, height, width, channels)


def test_translation_shifts_with_zero_fill():
  images = ramp()
  out = augment.translation(tf.constant(images), tf.constant([1, -2]), tf.constant([2, 0])).numpy()
  # Output pixel (r, c) reads input (r + shift_y, c + shift_x), zero outside.
  for index, (dy, dx) in enumerate([(1, 2), (-2, 0)]):
    expected = np.zeros_like(images[index])
    for r in range(8):
      for c in range(8):
        if 0 <= r + dy < 8 and 0 <= c + dx < 8:
          expected[r, c] = images[index, r + dy, c + dx]
    np.testing.assert_array_equal(out[index], expected)


def test_cutout_zeroes_exactly_one_square_clipped_at_the_border():
  images = ramp()
  out = augment.cutout(tf.constant(images), tf.constant([4, 0]), tf.constant([4, 7]), 4, 4).numpy()
  assert np.sum(out[0] == 0) == 16 and np.all(out[0, 2:6, 2:6] == 0)
  # Centred at (0, 7): rows -2..1 and columns 5..8 of which rows 0..1 and columns 5..7 are inside.
  assert np.sum(out[1] == 0) == 2 * 3 and np.all(out[1, 0:2, 5:8] == 0)
  untouched = out[0] != 0
  np.testing.assert_array_equal(out[0][untouched], images[0][untouched])


def test_color_is_the_identity_at_the_neutral_parameters_and_shifts_brightness():
  images = tf.constant(np.random.default_rng(0).uniform(-1, 1, (3, 4, 4, 3)).astype(np.float32))
  half = tf.fill([3], 0.5)
  np.testing.assert_allclose(augment.color(images, half, half, half).numpy(), images.numpy(), atol=1e-6)
  brighter = augment.color(images, tf.fill([3], 1.0), half, half).numpy()
  np.testing.assert_allclose(brighter, images.numpy() + 0.5, atol=1e-6)
  gray = augment.color(images, half, tf.zeros([3]), half).numpy()  # saturation 0: every channel = the mean
  np.testing.assert_allclose(gray, np.repeat(images.numpy().mean(axis=3, keepdims=True), 3, axis=3), atol=1e-6)


def test_gradients_flow_through_every_policy():
  images = tf.constant(ramp(channels=3))
  params = augment.draw_parameters(augment.POLICIES, tf.constant([1, 2], tf.int64), 2, (8, 8))
  with tf.GradientTape() as tape:
    tape.watch(images)
    total = tf.reduce_sum(augment.apply(images, augment.POLICIES, params))
  gradient = tape.gradient(total, images).numpy()
  assert np.any(gradient != 0) and np.all(np.isfinite(gradient))


def test_replica_slices_of_the_global_parameters_augment_like_one_replica():
  images = np.random.default_rng(1).uniform(-1, 1, (8, 16, 16, 1)).astype(np.float32)
  params = augment.draw_parameters(augment.POLICIES, tf.constant([3, 4], tf.int64), 8, (16, 16))
  whole = augment.apply(tf.constant(images), augment.POLICIES, params).numpy()
  parts = [augment.apply(tf.constant(images[start:start + 4]), augment.POLICIES,
                         augment.slice_parameters(params, start, 4)).numpy() for start in (0, 4)]
  np.testing.assert_array_equal(np.concatenate(parts), whole)


def test_parameters_are_a_pure_function_of_the_seed():
  first = augment.draw_parameters(augment.POLICIES, tf.constant([5, 6], tf.int64), 16, (28, 28))
  again = augment.draw_parameters(augment.POLICIES, tf.constant([5, 6], tf.int64), 16, (28, 28))
  other = augment.draw_parameters(augment.POLICIES, tf.constant([5, 7], tf.int64), 16, (28, 28))
  for name in first:
    np.testing.assert_array_equal(first[name].numpy(), again[name].numpy())
  assert any(not np.array_equal(first[n].numpy(), other[n].numpy()) for n in first if n != "size")
  shift = int(28 * augment.TRANSLATION_RATIO + 0.5)
  assert np.all(np.abs(first["shift_y"].numpy()) <= shift)


def test_unknown_policy_is_refused():
  with pytest.raises(ValueError, match="unknown DiffAugment policy"):
    augment.apply(tf.zeros([1, 4, 4, 1]), ("blur",), {})
