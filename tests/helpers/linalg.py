"""Linear algebra the layer tests check against."""

import numpy as np


def largest_singular_value(matrix):
  return float(np.linalg.svd(np.asarray(matrix, np.float64), compute_uv=False)[0])
