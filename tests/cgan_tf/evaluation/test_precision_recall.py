"""Tests of improved precision and recall: hand-made feature sets with known answers, a brute-force
reference, blocking, and the per-class figures."""

import numpy as np
import pytest

from cgan_tf.evaluation import precision_recall


def _brute_force(real, generated, neighbours):
  """The definition read literally: every distance by subtraction, every radius by a full sort."""
  def radii(features):
    distances = np.linalg.norm(features[:, None, :] - features[None, :, :], axis=-1)
    return np.sort(distances, axis=1)[:, neighbours]  # Column 0 is the vector itself.

  cross = np.linalg.norm(generated[:, None, :] - real[None, :, :], axis=-1)  # [M generated, N real]
  precision = np.mean(np.any(cross <= radii(real)[None, :], axis=1))
  recall = np.mean(np.any(cross <= radii(generated)[:, None], axis=0))
  return precision, recall


def _two_clusters(rng, count, dim=2, gap=50.0):
  return (rng.standard_normal((count, dim)),
          rng.standard_normal((count, dim)) + gap)


def test_radii_are_the_distance_to_the_kth_nearest_other_vector():
  points = np.array([[0.0], [1.0], [3.0], [6.0], [10.0]])
  np.testing.assert_allclose(precision_recall.squared_radii(points, neighbours=1), [1, 1, 4, 9, 16])
  np.testing.assert_allclose(precision_recall.squared_radii(points, neighbours=2), [9, 4, 9, 16, 49])


def test_identical_sets_have_precision_and_recall_one():
  features = np.random.default_rng(0).standard_normal((300, 16))
  assert precision_recall.precision_recall(features, features.copy()) == (1.0, 1.0)


def test_a_generator_covering_one_of_two_clusters_has_full_precision_and_half_recall():
  rng = np.random.default_rng(1)
  cluster_a, cluster_b = _two_clusters(rng, 500)
  real = np.concatenate([cluster_a, cluster_b])
  collapsed = rng.standard_normal((1000, 2))  # As many samples as real, all from cluster a.
  precision, recall = precision_recall.precision_recall(real, collapsed)
  assert precision > 0.97
  assert 0.45 < recall <= 0.5
  # Exactly: a generated set made of cluster a's own vectors.
  assert precision_recall.precision_recall(real, cluster_a) == (1.0, 0.5)


def test_a_generator_far_from_the_real_data_has_precision_and_recall_zero():
  rng = np.random.default_rng(2)
  real = rng.standard_normal((200, 8))
  far = rng.standard_normal((200, 8)) + 100.0
  assert precision_recall.precision_recall(real, far) == (0.0, 0.0)


@pytest.mark.parametrize("neighbours", [1, 3, 5])
@pytest.mark.parametrize("seed", [3, 4])
def test_matches_a_brute_force_reference_exactly(neighbours, seed):
  rng = np.random.default_rng(seed)
  # Overlapping but different distributions and sizes, so neither figure is 0 or 1.
  real = rng.standard_normal((83, 6))
  generated = 1.3 * rng.standard_normal((61, 6)) + 0.4
  expected = _brute_force(real, generated, neighbours)
  got = precision_recall.precision_recall(real, generated, neighbours=neighbours)
  assert 0.0 < got[0] < 1.0 and 0.0 < got[1] < 1.0
  assert got == pytest.approx(expected, abs=0)


def test_blocks_give_the_same_result_as_one_block():
  rng = np.random.default_rng(5)
  real = np.maximum(rng.standard_normal((250, 32)), 0.0)  # ReLU-like, as the evaluator's features are.
  generated = np.maximum(rng.standard_normal((170, 32)) + 0.2, 0.0)
  whole = precision_recall.precision_recall(real, generated, block_size=10_000)
  # One row or many take different BLAS paths: radii agree to rounding, the figures exactly.
  np.testing.assert_allclose(precision_recall.squared_radii(real, block_size=1),
                             precision_recall.squared_radii(real, block_size=10_000), rtol=1e-12)
  for block_size in (1, 7, 64, 169):
    assert precision_recall.precision_recall(real, generated, block_size=block_size) == whole


def test_too_few_vectors_for_k_neighbours_are_refused():
  with pytest.raises(ValueError, match="more than 3"):
    precision_recall.precision_recall(np.zeros((3, 4)), np.zeros((10, 4)))
  with pytest.raises(ValueError, match="generated"):
    precision_recall.precision_recall(np.zeros((10, 4)), np.zeros((10,)))


def test_per_class_figures_tell_a_matched_class_from_a_collapsed_and_a_missing_one():
  rng = np.random.default_rng(6)
  real = np.concatenate([rng.standard_normal((100, 4)) + 30.0 * k for k in range(3)])
  real_labels = np.repeat(np.arange(3), 100)
  generated = np.concatenate([
      real[:100],                                  # class 0: the real vectors themselves
      np.repeat(real[100:101], 100, axis=0),       # class 1: one real vector, a hundred times
      rng.standard_normal((100, 4)) - 500.0])      # class 2: nowhere near the data
  generated_labels = np.repeat(np.arange(3), 100)
  precision, recall, precisions, recalls = precision_recall.intra_class_precision_recall(
      real, real_labels, generated, generated_labels, num_classes=3)
  assert precisions == [1.0, 1.0, 0.0]
  # The collapsed class's manifold is one point (radius 0): it covers only the vector it copies.
  assert recalls == [1.0, 0.01, 0.0]
  assert precision == pytest.approx(2 / 3) and recall == pytest.approx(1.01 / 3)
