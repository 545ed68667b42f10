"""cgan_tf/samples.py: the one conversion of generator output to uint8, on the host and in a graph."""

import numpy as np
import pytest
import tensorflow as tf

from cgan_tf import samples


def _reference(images, output):
  """The conversion written out in numpy: scale to [0, 255], round half to even, clip."""
  images = np.asarray(images, np.float32)
  scaled = images * 255.0 if output == "sigmoid" else (images + 1.0) * 127.5
  return np.clip(np.round(scaled), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("output,low,high", [("tanh", -1.2, 1.2), ("sigmoid", -0.2, 1.2)])
@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.float64])
def test_host_and_graph_conversions_agree_with_numpy(output, low, high, dtype):
  values = np.random.default_rng(0).uniform(low, high, (4, 5, 6, 1)).astype(dtype)
  expected = _reference(values, output)
  host = samples.to_uint8(values, output)
  assert host.dtype == np.uint8
  np.testing.assert_array_equal(host, expected)
  in_graph = tf.function(lambda x: samples.to_uint8_tensor(x, output))(tf.constant(values))
  np.testing.assert_array_equal(in_graph.numpy(), expected)


def test_halves_round_to_even_and_the_ends_clip():
  # (x + 1) * 127.5 = 0.5, 1.5, 2.5 for these x: half to even gives 0, 2, 2.
  values = np.array([0.5, 1.5, 2.5], np.float32) / 127.5 - 1.0
  np.testing.assert_array_equal(samples.to_uint8(values), _reference(values, "tanh"))
  np.testing.assert_array_equal(samples.to_uint8(np.array([-3.0, 3.0], np.float32)), [0, 255])
