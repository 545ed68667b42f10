"""cgan_tf/layers/discriminator.py: the projection logit (and its spectral norm), the minibatch standard deviation."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from cgan_tf import layers as cgan_layers
from tests.helpers.linalg import largest_singular_value


def test_projection_logit_is_linear_plus_class_embedding_inner_product():
  layer = cgan_layers.ProjectionLogit(4)
  features = np.random.default_rng(5).normal(size=(6, 9)).astype(np.float32)
  labels = np.array([0, 1, 2, 3, 3, 1], np.int32)
  out = layer([features, labels]).numpy()
  embedding = layer.embedding.numpy()
  linear = features @ layer.linear.kernel.numpy() + layer.linear.bias.numpy()
  expected = linear + np.sum(embedding[labels] * features, axis=1, keepdims=True)
  np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_the_training_step_finds_and_advances_the_projection_embeddings_spectral_norm():
  # The class embedding of a spectrally normalized projection D is a [classes, D] linear map of one-hot y,
  # normalized like a kernel: the training step must advance its power iteration too, or its estimate
  # stays where the random start put it and the embedding is not 1-Lipschitz.
  # Seeded: 50 power iterations reach 1e-4 from most random starts, not from every one (the global random
  # state a worker's earlier tests leave once drew a start that ended 3.7e-4 away).
  keras.utils.set_random_seed(2)
  def model(spectral_norm):
    inputs = [keras.Input((9,)), keras.Input((), dtype="int32")]
    return keras.Model(inputs, cgan_layers.ProjectionLogit(4, spectral_norm)(inputs))

  assert cgan_layers.spectral_norm_layers(model(False)) == []
  found = cgan_layers.spectral_norm_layers(model(True))
  (projection,) = [layer for layer in found if isinstance(layer, cgan_layers.ProjectionLogit)]
  assert any(isinstance(layer, cgan_layers.SNDense) for layer in found)  # Its linear part.
  projection.embedding.assign(projection.embedding.numpy() * 3.0)
  sigma = largest_singular_value(projection.embedding.numpy())
  assert sigma > 2.0
  for _ in range(50):  # As 50 discriminator updates run them.
    for layer in found:
      layer.update_spectral_norm()
  normalized = projection._embedding_matrix().numpy()
  assert largest_singular_value(normalized) == pytest.approx(1.0, abs=1e-4)


def test_minibatch_std_appends_each_groups_mean_feature_spread():
  features = np.random.default_rng(2).normal(size=(8, 3, 5, 4))
  out = cgan_layers.MinibatchStdDev(4, dtype="float64")(features).numpy()
  assert out.shape == (8, 3, 5, 5)
  np.testing.assert_array_equal(out[..., :4], features)
  # Groups are consecutive examples, 0-3 and 4-7: the spread of each over its 4 members, averaged over
  # positions and channels, the same at every position.
  expected = [np.sqrt(features[g:g + 4].var(axis=0) + 1e-8).mean() for g in (0, 4)]
  np.testing.assert_allclose(out[..., 4], np.repeat(expected, 4)[:, None, None] * np.ones((8, 3, 5)), rtol=1e-12)


def test_minibatch_std_of_one_group_ignores_the_other_groups():
  # A replica's slice holds whole groups, and D sees the real and the fake batch in separate calls, so
  # nothing outside a group may reach its value.
  features = np.random.default_rng(3).normal(size=(8, 2, 2, 3)).astype(np.float32)
  changed = features.copy()
  changed[4:] *= 10.0
  layer = cgan_layers.MinibatchStdDev(4)
  np.testing.assert_array_equal(layer(features).numpy()[:4], layer(changed).numpy()[:4])
  assert not np.allclose(layer(features).numpy()[4:, ..., 3], layer(changed).numpy()[4:, ..., 3])
  # Identical members have no spread (only the 1e-8 under the square root).
  copies = np.repeat(features[:1], 4, axis=0)
  np.testing.assert_allclose(layer(copies).numpy()[..., 3], 1e-4, rtol=1e-3)


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_minibatch_std_under_a_mixed_policy_keeps_the_compute_dtype(policy):
  layer = cgan_layers.MinibatchStdDev(2, dtype=policy)
  features = np.random.default_rng(4).normal(size=(4, 2, 2, 3)).astype(np.float32)
  out = layer(tf.cast(features, layer.compute_dtype))
  assert out.dtype == layer.compute_dtype
  expected = [np.sqrt(features[g:g + 2].var(axis=0) + 1e-8).mean() for g in (0, 2)]
  np.testing.assert_allclose(out.numpy()[:, 0, 0, 3].astype(np.float32), np.repeat(expected, 2), rtol=2e-2)
