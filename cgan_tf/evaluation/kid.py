"""Kernel Inception Distance in any feature space: the unbiased MMD^2 estimate with the cubic
polynomial kernel k(x, y) = (x.y / D + 1)^3 (Bińkowski et al. 2018), averaged over random subsets."""

import numpy as np


def polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
  return (x @ y.T / x.shape[1] + 1.0) ** 3


def mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
  """Unbiased MMD^2 between samples x [m, D] and y [n, D] (diagonals of the within-set kernels left
  out, which is what makes it unbiased: its expectation is 0 when both come from one distribution)."""
  m, n = len(x), len(y)
  k_xx, k_yy, k_xy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
  within_x = (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
  within_y = (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
  return float(within_x + within_y - 2.0 * k_xy.mean())


def kernel_distance(features_1: np.ndarray, features_2: np.ndarray, num_subsets: int = 100,
                    subset_size: int = 1000, seed: int = 0):
  """KID between two feature sets; returns (mean, standard deviation) over `num_subsets` subsets.

  Subsets bound the cost (the kernel matrices are subset_size^2) and give a spread; the estimate is
  unbiased for any subset size, so small samples use all they have.
  """
  features_1 = np.asarray(features_1, np.float64)
  features_2 = np.asarray(features_2, np.float64)
  size = min(subset_size, len(features_1), len(features_2))
  if size < 2:
    raise ValueError("KID needs at least two feature vectors in each set")
  rng = np.random.default_rng(seed)
  estimates = [mmd2_unbiased(features_1[rng.choice(len(features_1), size, replace=False)],
                             features_2[rng.choice(len(features_2), size, replace=False)])
               for _ in range(num_subsets)]
  return float(np.mean(estimates)), float(np.std(estimates))
