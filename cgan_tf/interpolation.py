"""Paths between two noise vectors: spherical for normal noise, straight for uniform noise.

numpy only (no TensorFlow, no other cgan_tf module), so tools/serving_client.py can load this file on a
machine that has neither.
"""

import numpy as np

def lerp(start: np.ndarray, end: np.ndarray, fractions: np.ndarray) -> np.ndarray:
  """Points on the straight line from `start` (fraction 0) to `end` (fraction 1).

  Args:
    start, end: float [latent_dim].
    fractions: float [steps].

  Returns:
    float [steps, latent_dim].
  """
  fractions = np.asarray(fractions, np.float64)[:, None]
  return (1.0 - fractions) * np.asarray(start, np.float64) + fractions * np.asarray(end, np.float64)


def slerp(start: np.ndarray, end: np.ndarray, fractions: np.ndarray) -> np.ndarray:
  """Points on the great-circle arc from `start` to `end`, with the norm varying smoothly between theirs.

  A straight line between two Gaussian vectors passes near the origin, where a high-dimensional normal
  has almost no mass (its norm concentrates near sqrt(latent_dim)), so its middle frames look washed out;
  the arc keeps every point at a typical norm (White, "Sampling Generative Networks", 2016).

  Args:
    start, end: float [latent_dim].
    fractions: float [steps].

  Returns:
    float [steps, latent_dim].
  """
  start, end = np.asarray(start, np.float64), np.asarray(end, np.float64)
  norms = np.linalg.norm(start) * np.linalg.norm(end)
  cosine = np.clip(np.dot(start, end) / norms, -1.0, 1.0) if norms > 0 else 1.0
  angle = np.arccos(cosine)
  if np.sin(angle) < 1e-6:  # (Anti)parallel vectors: no unique arc; the line is the limit of one.
    return lerp(start, end, fractions)
  fractions = np.asarray(fractions, np.float64)[:, None]
  return (np.sin((1.0 - fractions) * angle) * start + np.sin(fractions * angle) * end) / np.sin(angle)


def path(start: np.ndarray, end: np.ndarray, steps: int, noise: str = "normal") -> np.ndarray:
  """`steps` evenly spaced points from `start` to `end`, both included, in float32.

  Normal noise moves on the sphere (`slerp`); uniform noise on the straight line (`lerp`), which stays
  inside the cube the noise was drawn from.

  Raises:
    ValueError: for fewer than 2 steps or an unknown noise distribution.
  """
  if steps < 2:
    raise ValueError(f"an interpolation needs at least 2 steps, got {steps}")
  fractions = np.linspace(0.0, 1.0, steps)
  if noise == "normal":
    return slerp(start, end, fractions).astype(np.float32)
  if noise == "uniform":
    return lerp(start, end, fractions).astype(np.float32)
  raise ValueError(f"unknown noise distribution {noise!r}; known: normal, uniform")
