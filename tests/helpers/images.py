"""Tiny in-memory image sets for the data pipeline's tests."""

import numpy as np

from cgan_tf import data


def small_data(count=40, classes=4):
  images = np.arange(count * 4 * 4, dtype=np.uint32).reshape(count, 4, 4, 1) % 256
  return data.ImageData(images.astype(np.uint8), (np.arange(count) % classes).astype(np.int32),
                        tuple(str(i) for i in range(classes)), "test")


def take(dataset, n):
  return [(x.numpy(), y.numpy()) for x, y in dataset.take(n)]
