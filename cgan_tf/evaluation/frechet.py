"""Fréchet distance between Gaussians fitted to two feature sets (the FID formula, in any feature space).

    d^2 = |mu_1 - mu_2|^2 + tr(S_1) + tr(S_2) - 2 tr((S_1 S_2)^(1/2))

The trace of the matrix square root is computed without scipy: (S_1 S_2)^(1/2) has the same eigenvalues
as A = S_1^(1/2) S_2 S_1^(1/2), which is symmetric positive semi-definite, so its trace is the sum of the
square roots of `eigvalsh(A)`. Everything is float64, and tiny negative eigenvalues from rounding are
clipped to zero, which keeps the result real without the `sqrtm(...).real` fudge.
"""

import numpy as np


def statistics(features: np.ndarray):
  """Mean [D] and covariance [D, D] (float64, unbiased) of features [N, D]."""
  features = np.asarray(features, dtype=np.float64)
  if features.ndim != 2 or len(features) < 2:
    raise ValueError(f"need at least two feature vectors [N, D], got shape {features.shape}")
  return features.mean(axis=0), np.cov(features, rowvar=False)


def _symmetric_sqrt(matrix: np.ndarray) -> np.ndarray:
  eigenvalues, eigenvectors = np.linalg.eigh((matrix + matrix.T) / 2)
  return (eigenvectors * np.sqrt(np.clip(eigenvalues, 0, None))) @ eigenvectors.T


def trace_sqrt_product(sigma_1: np.ndarray, sigma_2: np.ndarray) -> float:
  """tr((S_1 S_2)^(1/2)) for symmetric positive semi-definite S_1, S_2."""
  root_1 = _symmetric_sqrt(np.asarray(sigma_1, dtype=np.float64))
  product = root_1 @ np.asarray(sigma_2, dtype=np.float64) @ root_1
  eigenvalues = np.linalg.eigvalsh((product + product.T) / 2)
  return float(np.sqrt(np.clip(eigenvalues, 0, None)).sum())


def frechet_distance_from_statistics(mu_1, sigma_1, mu_2, sigma_2) -> float:
  """The Fréchet distance between N(mu_1, sigma_1) and N(mu_2, sigma_2)."""
  mu_1, mu_2 = np.asarray(mu_1, np.float64), np.asarray(mu_2, np.float64)
  sigma_1, sigma_2 = np.atleast_2d(sigma_1).astype(np.float64), np.atleast_2d(sigma_2).astype(np.float64)
  if mu_1.shape != mu_2.shape or sigma_1.shape != sigma_2.shape:
    raise ValueError(f"mismatched statistics: means {mu_1.shape} vs {mu_2.shape}, covariances "
                     f"{sigma_1.shape} vs {sigma_2.shape}")
  difference = mu_1 - mu_2
  distance = (difference @ difference + np.trace(sigma_1) + np.trace(sigma_2)
              - 2.0 * trace_sqrt_product(sigma_1, sigma_2))
  # Rounding can leave a tiny negative number for identical statistics; a distance is never negative.
  return max(float(distance), 0.0)


def frechet_distance(features_1: np.ndarray, features_2: np.ndarray) -> float:
  """The Fréchet distance between Gaussians fitted to two feature sets [N1, D] and [N2, D]."""
  return frechet_distance_from_statistics(*statistics(features_1), *statistics(features_2))


def intra_class_frechet_distance(features_1, labels_1, features_2, labels_2, num_classes: int):
  """The Fréchet distance class by class; returns (mean over classes, list of per-class distances)."""
  per_class = [frechet_distance(features_1[labels_1 == k], features_2[labels_2 == k])
               for k in range(num_classes)]
  return float(np.mean(per_class)), per_class
