"""Improved precision and recall (Kynkäänniemi et al. 2019) between two feature sets, in any feature space.

Each set stands for its manifold: the union of balls around its feature vectors, each ball's radius the
distance from that vector to its k-th nearest neighbour in the same set. Precision is the fraction of
generated vectors inside the real manifold (fidelity: does each sample look real?); recall is the fraction
of real vectors inside the generated manifold (diversity: is everything real data holds generated?). A
generator that drops modes keeps its precision and loses recall, which one distance such as Fréchet's
blurs together.

The pairwise distances of N x M vectors do not fit in memory at evaluation sizes (10,000 x 10,000 float64
is 800 MB), so they are computed a block of rows at a time: memory grows as block_size x M, never N x M.
One pass over the generated-to-real distances answers both questions: a row says whether a generated
vector is in some real ball, a column whether a real vector is in some generated ball.
"""

from typing import Iterator, List, Tuple

import numpy as np

NEIGHBOURS = 3  # The paper's choice: small enough to follow the data's shape, large enough to be stable.
# Rows of distances per block. A block and its partial sort take 2 x 8 x BLOCK_SIZE x M bytes: 160 MB
# for M = 10,000 vectors, against 800 MB for the whole matrix.
BLOCK_SIZE = 1000


def _blocks(count: int, block_size: int) -> Iterator[slice]:
  for start in range(0, count, block_size):
    yield slice(start, min(start + block_size, count))


def _squared_distances(rows: np.ndarray, columns: np.ndarray, column_norms: np.ndarray) -> np.ndarray:
  """|r - c|^2 for every pair, as |r|^2 + |c|^2 - 2 r.c (one matrix product, in place)."""
  distances = rows @ columns.T
  distances *= -2.0
  distances += np.einsum("ij,ij->i", rows, rows)[:, None]
  distances += column_norms[None, :]
  # Rounding can leave a vector a tiny negative distance from itself; a squared distance never is.
  return np.maximum(distances, 0.0, out=distances)


def _as_features(features: np.ndarray, neighbours: int, name: str) -> np.ndarray:
  features = np.asarray(features, np.float64)
  if features.ndim != 2 or len(features) <= neighbours:
    raise ValueError(f"{name}: the {neighbours}-nearest-neighbour manifold needs more than {neighbours} "
                     f"feature vectors [N, D], got shape {features.shape}")
  return features


def squared_radii(features: np.ndarray, neighbours: int = NEIGHBOURS,
                  block_size: int = BLOCK_SIZE) -> np.ndarray:
  """The squared distance from each vector [N, D] to its `neighbours`-th nearest other vector; float64 [N].

  A vector is at distance 0 from itself, the smallest in its row, so position `neighbours` of the row in
  ascending order (counting from 0) is the k-th nearest other vector. Duplicates count as neighbours.
  """
  features = _as_features(features, neighbours, "features")
  norms = np.einsum("ij,ij->i", features, features)
  radii = np.empty(len(features))
  for block in _blocks(len(features), block_size):
    distances = _squared_distances(features[block], features, norms)
    # A partial sort finds the k-th smallest in linear time per row.
    radii[block] = np.partition(distances, neighbours, axis=1)[:, neighbours]
  return radii


def precision_recall(real: np.ndarray, generated: np.ndarray, neighbours: int = NEIGHBOURS,
                     block_size: int = BLOCK_SIZE) -> Tuple[float, float]:
  """Improved precision and recall of generated features [M, D] against real features [N, D].

  Args:
    real: the real feature vectors (the reference).
    generated: the feature vectors being judged.
    neighbours: k, whose k-th nearest neighbour distance is each ball's radius.
    block_size: rows of distances held at once; the result does not depend on it.

  Returns:
    (precision, recall), each in [0, 1].

  Raises:
    ValueError: a set is not [N, D] or has no more than `neighbours` vectors.
  """
  real = _as_features(real, neighbours, "real")
  generated = _as_features(generated, neighbours, "generated")
  real_radii = squared_radii(real, neighbours, block_size)
  generated_radii = squared_radii(generated, neighbours, block_size)
  real_norms = np.einsum("ij,ij->i", real, real)
  generated_inside = np.zeros(len(generated), bool)
  real_inside = np.zeros(len(real), bool)
  for block in _blocks(len(generated), block_size):
    distances = _squared_distances(generated[block], real, real_norms)
    generated_inside[block] = np.any(distances <= real_radii[None, :], axis=1)
    real_inside |= np.any(distances <= generated_radii[block, None], axis=0)
  return float(generated_inside.mean()), float(real_inside.mean())


def intra_class_precision_recall(real, real_labels, generated, generated_labels, num_classes: int,
                                 neighbours: int = NEIGHBOURS, block_size: int = BLOCK_SIZE):
  """Precision and recall class by class: each class's generated features against that class's real ones.

  Returns:
    (mean precision, mean recall, list of per-class precisions, list of per-class recalls).
  """
  real, generated = np.asarray(real), np.asarray(generated)
  per_class: List[Tuple[float, float]] = [
      precision_recall(real[real_labels == k], generated[generated_labels == k], neighbours, block_size)
      for k in range(num_classes)]
  precisions, recalls = [p for p, _ in per_class], [r for _, r in per_class]
  return float(np.mean(precisions)), float(np.mean(recalls)), precisions, recalls
