"""cgan_tf/data/idx.py: IDX files read, and every malformed one named."""

import os

import numpy as np
import pytest

from cgan_tf import data
from cgan_tf.data import idx
from cgan_tf.config import Config
from tests.helpers.data import DEBIAN_FASHION_MNIST, write_idx


def test_load_idx_reads_the_synthetic_set(idx_dir):
  train = idx.load_idx(idx_dir, "train")
  test = idx.load_idx(idx_dir, "test")
  assert train.images.shape == (256, 28, 28, 1) and train.images.dtype == np.uint8
  assert test.images.shape == (128, 28, 28, 1)
  assert set(train.labels.tolist()) == set(range(10))
  assert train.labels.dtype == np.int32


@pytest.mark.skipif(not os.path.isdir(DEBIAN_FASHION_MNIST), reason="dataset-fashion-mnist not installed")
def test_load_debian_fashion_mnist():
  config = Config(run_dir="/tmp/unused", data_source="idx")
  train = data.load(config, "train")
  assert train.images.shape == (60000, 28, 28, 1)
  assert np.bincount(train.labels).tolist() == [6000] * 10
  assert train.class_names[9] == "Ankle boot"
  assert data.load(config, "test").images.shape == (10000, 28, 28, 1)


def test_idx_errors_name_the_file(tmp_path):
  images = np.zeros((5, 4, 4), np.uint8)
  path = write_idx(str(tmp_path / "train-images-idx3-ubyte"), images, compress=False)
  with pytest.raises(data.DataError, match="wrong IDX magic number 2051, expected 2049"):
    idx.read_idx(path, idx.IDX_LABELS_MAGIC)
  with open(path, "rb") as f:
    raw = f.read()
  with open(path, "wb") as f:
    f.write(raw[:-7])
  with pytest.raises(data.DataError, match="train-images-idx3-ubyte.*truncated"):
    idx.read_idx(path, idx.IDX_IMAGES_MAGIC)
  with open(path, "wb") as f:
    f.write(raw[:2])
  with pytest.raises(data.DataError, match="truncated"):
    idx.read_idx(path, idx.IDX_IMAGES_MAGIC)


def test_idx_count_mismatch_and_missing_files(tmp_path):
  write_idx(str(tmp_path / "train-images-idx3-ubyte"), np.zeros((5, 4, 4), np.uint8))
  with pytest.raises(data.DataError, match="train-labels-idx1-ubyte"):
    idx.load_idx(str(tmp_path), "train")
  write_idx(str(tmp_path / "train-labels-idx1-ubyte"), np.zeros((4,), np.uint8))
  with pytest.raises(data.DataError, match="5 images but .* 4 labels"):
    idx.load_idx(str(tmp_path), "train")
  with pytest.raises(data.DataError, match="apt-get install dataset-fashion-mnist"):
    idx.load_idx(str(tmp_path / "absent"), "train")


def test_idx_label_out_of_range(tmp_path):
  write_idx(str(tmp_path / "train-images-idx3-ubyte"), np.zeros((3, 4, 4), np.uint8))
  write_idx(str(tmp_path / "train-labels-idx1-ubyte"), np.array([0, 1, 10], np.uint8))
  with pytest.raises(data.DataError, match="label 10 is out of range for 10 classes"):
    idx.load_idx(str(tmp_path), "train", tuple("abcdefghij"))
