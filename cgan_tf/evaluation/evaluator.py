"""The evaluator: a classifier trained once on the real train split, cached per data set, never on fakes.

Its penultimate layer is the feature space of the Fréchet distance and KID; its predictions give the
conditional accuracy. The cache holds, per data set, `classifier.keras` and `evaluator.json` (test
accuracy, training settings, a fingerprint of the data it was trained on).
"""

import dataclasses
import datetime
import hashlib
import json
import os
import time

from absl import logging
import keras
import numpy as np
import tensorflow as tf

from cgan_tf import data as data_lib
from cgan_tf import files
from cgan_tf.config import Config, ConfigError
from cgan_tf.evaluation import classifier as classifier_lib

MODEL_FILE = "classifier.keras"
INFO_FILE = "evaluator.json"


def cache_dir(config: Config) -> str:
  """`<evaluator_dir>/<dataset>`: one evaluator per data set, shared by every run that uses it."""
  name = "".join(c if c.isalnum() or c in "-_." else "_" for c in config.dataset)
  return os.path.join(os.path.expanduser(config.evaluator_dir), name)


def fingerprint(data: data_lib.ImageData) -> str:
  """A cheap, order-independent digest of a labelled set, so a cached evaluator is never silently used
  for other data that happens to share the data set's name."""
  histogram = np.bincount(data.labels, minlength=len(data.class_names))
  pixel_sum = int(data.images.astype(np.uint64).sum())
  text = f"{data.images.shape}|{histogram.tolist()}|{pixel_sum}|{list(data.class_names)}"
  return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclasses.dataclass
class Evaluator:
  """A trained classifier and the model that returns its penultimate features next to its logits.

  Attributes:
    model: the classifier (images -> logits).
    info: the cache's metadata (test_accuracy, dataset, fingerprint, ...).
  """

  model: keras.Model
  info: dict

  def __post_init__(self):
    self._both = keras.Model(self.model.inputs, [self.model.get_layer(classifier_lib.FEATURES_LAYER).output,
                                                 self.model.outputs[0]])
    self._predict = tf.function(lambda images: self._both(images, training=False), reduce_retracing=True)

  def features_and_logits(self, images: np.ndarray, batch_size: int = 500):
    """Penultimate features (float64 [N, D]) and class logits (float64 [N, classes]) of uint8 images."""
    features, logits = [], []
    for start in range(0, len(images), batch_size):
      batch = tf.constant(images[start:start + batch_size], dtype=tf.float32)
      batch_features, batch_logits = self._predict(batch)
      features.append(batch_features.numpy().astype(np.float64))
      logits.append(batch_logits.numpy().astype(np.float64))
    return np.concatenate(features), np.concatenate(logits)

  def features_and_predictions(self, images: np.ndarray, batch_size: int = 500):
    """Penultimate features (float64 [N, D]) and predicted classes (int64 [N]) of uint8 images."""
    features, logits = self.features_and_logits(images, batch_size)
    return features, np.argmax(logits, axis=-1)


def train_evaluator(config: Config) -> Evaluator:
  """Trains the evaluator on the real train split, measures it on the test split and caches both.

  Returns:
    The trained evaluator.

  Raises:
    ConfigError, data.DataError: if the data set cannot be read.
  """
  train = data_lib.load(config, "train")
  test = data_lib.load(config, "test")
  start = time.time()
  model = classifier_lib.fit_classifier(train.images, train.labels, len(train.class_names),
                                        config.evaluator_epochs, seed=0, verbose=config.verbose)
  test_accuracy = classifier_lib.accuracy(model, test.images, test.labels)
  info = dict(dataset=config.dataset, origin=train.origin, fingerprint=fingerprint(train),
              class_names=list(train.class_names), image_shape=list(train.image_shape),
              num_train=int(len(train.labels)), num_test=int(len(test.labels)),
              epochs=config.evaluator_epochs, test_accuracy=test_accuracy,
              train_seconds=round(time.time() - start, 1),
              created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
  directory = cache_dir(config)
  tf.io.gfile.makedirs(directory)
  # Write to temporary names, then rename: a reader never finds a half-written model, and a model is
  # never present without the metadata that says what it was trained on.
  with files.atomic_path(os.path.join(directory, MODEL_FILE)) as tmp_model:
    model.save(tmp_model)
  files.write_json_atomically(os.path.join(directory, INFO_FILE), info, indent=2)
  logging.info("Evaluator for %s: test accuracy %.4f after %d epochs (%.0f s); saved to %s",
               config.dataset, test_accuracy, config.evaluator_epochs, info["train_seconds"], directory)
  return Evaluator(model, info)


def load_evaluator(config: Config, train_data: data_lib.ImageData = None) -> Evaluator:
  """The cached evaluator of the configured data set, trained first if there is none.

  Args:
    config: the configuration (dataset, evaluator_dir, evaluator_epochs, data location).
    train_data: the real train split, if already loaded, to check the cache's fingerprint against.

  Raises:
    ConfigError: if the cached evaluator was trained on other data than this data set.
  """
  directory = cache_dir(config)
  model_path, info_path = os.path.join(directory, MODEL_FILE), os.path.join(directory, INFO_FILE)
  if not (tf.io.gfile.exists(model_path) and tf.io.gfile.exists(info_path)):
    logging.info("No evaluator for %s in %s; training one on the real train split", config.dataset,
                 directory)
    return train_evaluator(config)
  with tf.io.gfile.GFile(info_path) as f:
    info = json.load(f)
  if train_data is None:
    train_data = data_lib.load(config, "train")
  if info.get("fingerprint") != fingerprint(train_data):
    raise ConfigError(f"--evaluator_dir: the evaluator in {directory} was trained on other data than "
                      f"{train_data.origin} (fingerprints differ); delete it to retrain, or pass another "
                      "--evaluator_dir")
  model = keras.models.load_model(model_path, safe_mode=True, compile=False)
  return Evaluator(model, info)
