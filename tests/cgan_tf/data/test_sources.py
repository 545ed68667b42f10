"""cgan_tf/data/sources.py: the source registry, the kind of a run's data, auto's choice between TFDS and IDX files, and a data set's name and the files read always agreeing."""

import os

import numpy as np
import pytest
import tensorflow as tf

from cgan_tf import data
from cgan_tf.data import idx
from cgan_tf.data import pipeline
from cgan_tf.data import tfds
from cgan_tf.config import Config, ConfigError
from tests.helpers.data import DEBIAN_FASHION_MNIST, write_idx
from tests.helpers.images import small_data


def test_every_source_is_registered_once_with_its_kind():
  assert data.source_names()[0] == "auto"
  assert set(data.source_names()[1:]) == {"tfds", "idx", "folder", "npz", "points"}
  assert {name: source.kind for name, source in data.SOURCES.items()} == {
      "tfds": "image", "idx": "image", "folder": "image", "npz": "image", "points": "points"}
  assert sorted(data.builtin_datasets()) == ["circle", "fashion_mnist", "mnist"]
  with pytest.raises(ValueError, match="registered twice"):
    data.SOURCES.register("idx", data.Source("idx", kind="image", load=lambda config, split: None))
  with pytest.raises(ValueError, match="kind must be one of image, points"):
    data.Source("pictures", kind="pictures", load=lambda config, split: None)


@pytest.mark.parametrize("fields,kind,source", [
    (dict(dataset="circle"), "points", "points"),
    (dict(dataset="circle", data_source="points"), "points", "points"),
    (dict(dataset="pets", data_source="folder"), "image", "folder"),
    (dict(dataset="pets", data_source="npz"), "image", "npz"),
    (dict(dataset="cifar10", data_source="tfds"), "image", "tfds"),
    (dict(dataset="fashion_mnist", data_source="idx"), "image", "idx"),
])
def test_kind_and_source_come_from_the_registry(fields, kind, source):
  config = Config(run_dir="/tmp/unused", **fields)
  assert data.kind_of(config) == kind
  assert data.source_name(config) == source


def test_auto_image_sets_are_images_without_reading_files():
  assert data.kind_of(Config(run_dir="/tmp/unused", dataset="no_such_set")) == "image"


def test_points_source_gives_the_circle_and_the_pipeline_feeds_it_as_it_is():
  circle = data.load(Config(run_dir="/tmp/unused", dataset="circle"), "test")
  assert isinstance(circle, data.PointData) and circle.points.shape == (2000, 2)
  np.testing.assert_allclose(np.linalg.norm(circle.points, axis=1), 1.0, rtol=1e-5)
  assert data.resolve(Config(), circle).image_shape == (2,) and data.resolve(Config(), circle).num_classes == 0
  points, labels = next(iter(pipeline.train_dataset(circle, 8, seed=0, output="linear")))
  assert points.dtype == tf.float32 and points.shape == (8, 2) and not np.any(labels.numpy())
  assert {tuple(p) for p in points.numpy()} <= {tuple(p) for p in circle.points}
  with pytest.raises(data.DataError, match="--dataset: 'fashion_mnist' is not a points data set"):
    data.load(Config(run_dir="/tmp/unused", dataset="fashion_mnist", data_source="points"), "train")


def test_resolve_fills_shape_and_classes():
  config = data.resolve(Config(), small_data(classes=4))
  assert config.image_shape == (4, 4, 1) and config.num_classes == 4 and config.class_names == ("0", "1", "2", "3")
  with pytest.raises(ConfigError, match="--image_shape"):
    data.resolve(Config(image_shape=(28, 28, 1)), small_data())


# --- The data set's name and the files read always agree ------------------------------------------


class _UnpreparedBuilder:
  """A TFDS builder with no prepared copy and no internet access."""

  class info:  # noqa: N801 - mirrors tfds's attribute.
    features = {"image": None, "label": None}

  data_dir = "/nonexistent/tfds"

  def is_prepared(self):
    return False

  def download_and_prepare(self):
    raise OSError("no internet access")


@pytest.mark.skipif(not os.path.isdir(DEBIAN_FASHION_MNIST), reason="dataset-fashion-mnist not installed")
def test_mnist_without_a_tfds_copy_is_refused_not_read_from_the_fashion_mnist_package(monkeypatch):
  monkeypatch.setattr(tfds, "_tfds_builder", lambda config: _UnpreparedBuilder())
  with pytest.raises(data.DataError, match=r"(?s)could not download.*To get MNIST.*tfds build mnist.*"
                                           r"--data_source=idx --data_dir=DIR"):
    data.load(Config(run_dir="/tmp/unused", dataset="mnist"), "train")


@pytest.mark.parametrize("dataset", ["mnist", "cifar10", "circle"])
def test_idx_source_without_data_dir_needs_the_sets_own_files(dataset):
  with pytest.raises(data.DataError, match=f"--data_dir: no directory of IDX files is known for "
                                           f"--dataset={dataset}"):
    data.load(Config(run_dir="/tmp/unused", dataset=dataset, data_source="idx"), "train")


@pytest.mark.skipif(not os.path.isdir(DEBIAN_FASHION_MNIST), reason="dataset-fashion-mnist not installed")
def test_fashion_mnist_files_read_as_mnist_are_refused():
  config = Config(run_dir="/tmp/unused", dataset="mnist", data_source="idx", data_dir=DEBIAN_FASHION_MNIST)
  with pytest.raises(data.DataError, match=r"(?s)mean pixel value is 72\.9.*looks like fashion_mnist.*"
                                           r"To get MNIST"):
    data.load(config, "train")


def test_other_files_read_as_fashion_mnist_are_refused(idx_dir):
  # The synthetic set is mostly dark, like MNIST's digits.
  config = Config(run_dir="/tmp/unused", dataset="fashion_mnist", data_source="idx", data_dir=idx_dir)
  with pytest.raises(data.DataError, match="looks like mnist.*apt-get install dataset-fashion-mnist"):
    data.load(config, "train")
  with pytest.raises(data.DataError, match="looks like mnist"):
    data.load(config.replace(data_source="auto"), "test")


def test_files_of_another_shape_read_as_mnist_are_refused(tmp_path):
  write_idx(str(tmp_path / "train-images-idx3-ubyte"), np.full((4, 32, 32), 33, np.uint8))
  write_idx(str(tmp_path / "train-labels-idx1-ubyte"), np.arange(4, dtype=np.uint8))
  config = Config(run_dir="/tmp/unused", dataset="mnist", data_source="idx", data_dir=str(tmp_path))
  with pytest.raises(data.DataError, match=r"shape \(32, 32, 1\), but mnist has \(28, 28, 1\)"):
    data.load(config, "train")


def test_mnist_shaped_files_read_as_mnist_load_with_digit_names(tmp_path):
  images = np.zeros((20, 28, 28), np.uint8)
  images[:, 8:20, 12:16] = 255  # A "1" on a mostly black background: mean pixel 30, like MNIST's.
  images[:, 4:24, 8:20] = np.maximum(images[:, 4:24, 8:20], 60)
  write_idx(str(tmp_path / "train-images-idx3-ubyte"), images)
  write_idx(str(tmp_path / "train-labels-idx1-ubyte"), (np.arange(20) % 10).astype(np.uint8))
  config = Config(run_dir="/tmp/unused", dataset="mnist", data_source="idx", data_dir=str(tmp_path))
  train = data.load(config, "train")
  assert abs(train.images.mean() - idx.KNOWN_IDX_SETS["mnist"].mean_pixel) < 10
  assert train.class_names == tuple("0123456789")
