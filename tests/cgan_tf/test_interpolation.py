"""Paths between noise vectors: spherical for normal noise, straight for uniform noise."""

import numpy as np
import pytest

from cgan_tf import interpolation


def ends(dim=128, seed=0):
  rng = np.random.default_rng(seed)
  return rng.standard_normal(dim), rng.standard_normal(dim)


@pytest.mark.parametrize("noise", ["normal", "uniform"])
def test_the_path_starts_and_ends_at_the_two_vectors(noise):
  start, end = ends()
  points = interpolation.path(start, end, 7, noise)
  assert points.shape == (7, 128) and points.dtype == np.float32
  np.testing.assert_allclose(points[0], start, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(points[-1], end, rtol=1e-5, atol=1e-6)


def test_normal_noise_keeps_a_typical_norm_where_the_line_sags():
  start, end = ends(dim=512)
  middle_arc = interpolation.path(start, end, 3, "normal")[1]
  middle_line = interpolation.path(start, end, 3, "uniform")[1]
  typical = np.sqrt(512)
  # Two independent Gaussian vectors are nearly orthogonal: the line's midpoint has ~1/sqrt(2) of the norm.
  assert abs(np.linalg.norm(middle_arc) / typical - 1) < 0.1
  assert np.linalg.norm(middle_line) / typical < 0.8


def test_slerp_moves_at_constant_angular_speed():
  start, end = np.array([1.0, 0.0]), np.array([0.0, 1.0])
  points = interpolation.slerp(start, end, np.linspace(0, 1, 5))
  np.testing.assert_allclose(np.arctan2(points[:, 1], points[:, 0]), np.linspace(0, np.pi / 2, 5), atol=1e-12)
  np.testing.assert_allclose(np.linalg.norm(points, axis=1), 1.0)


def test_uniform_noise_stays_inside_its_cube():
  rng = np.random.default_rng(3)
  start, end = rng.uniform(-1, 1, (2, 64))
  points = interpolation.path(start, end, 9, "uniform")
  assert np.all(np.abs(points) <= 1.0)
  np.testing.assert_allclose(points[4], (start + end) / 2, rtol=1e-6)


def test_parallel_vectors_fall_back_to_the_line():
  start = np.ones(8)
  np.testing.assert_allclose(interpolation.slerp(start, 2 * start, np.array([0.5]))[0], 1.5 * start)


@pytest.mark.parametrize("steps, noise", [(1, "normal"), (5, "gaussian")])
def test_bad_arguments_are_refused(steps, noise):
  with pytest.raises(ValueError):
    interpolation.path(np.zeros(4), np.ones(4), steps, noise)
