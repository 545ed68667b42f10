"""Synthetic data sets the tests train on, and where the repository and the real data live."""

import gzip
import os
import struct

import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEBIAN_FASHION_MNIST = "/usr/share/datasets/fashion-mnist"


def write_idx(path: str, array: np.ndarray, compress: bool = True) -> str:
  """Writes a uint8 array as an IDX file (MNIST format)."""
  magic = 0x0800 | array.ndim
  raw = struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()
  if compress:
    path += ".gz"
    with gzip.open(path, "wb") as f:
      f.write(raw)
  else:
    with open(path, "wb") as f:
      f.write(raw)
  return path


def make_idx_dataset(directory: str, num_train: int = 256, num_test: int = 128, num_classes: int = 10,
                     size: int = 28, seed: int = 0) -> str:
  """A small MNIST-format data set whose class k is a bright square at a class-specific place."""
  rng = np.random.default_rng(seed)
  os.makedirs(directory, exist_ok=True)
  for split, count in (("train", num_train), ("t10k", num_test)):
    labels = (np.arange(count) % num_classes).astype(np.uint8)
    rng.shuffle(labels)
    images = rng.integers(0, 40, size=(count, size, size), dtype=np.uint8)
    for i, label in enumerate(labels):
      row, col = divmod(int(label), 4)
      images[i, 2 + row * 6:6 + row * 6, 2 + col * 6:6 + col * 6] = 255
    write_idx(os.path.join(directory, f"{split}-images-idx3-ubyte"), images)
    write_idx(os.path.join(directory, f"{split}-labels-idx1-ubyte"), labels)
  return directory
