"""tools/benchmarks/quality.py: a time-to-quality check's figures are the package's Measurement's, for
cgan_tf's generators (labels [batch]) and the source loop's (labels [batch, 1])."""

import keras
import numpy as np
import pytest

from cgan_tf import data as data_lib
from cgan_tf.config import Config
from cgan_tf.evaluation import report
from cgan_tf.evaluation import sources
from tools.benchmarks import quality

NUM_CLASSES = 4
PER_CLASS = 6
LATENT_DIM = 3


def level(label):
  """The pixel value of class `label`'s images."""
  return 25 * label + 12


class StubEvaluator:
  """Sees an image's mean pixel: its features are functions of it, its most likely class the nearest class
  level."""

  info = {}

  def features_and_logits(self, images, batch_size=500):
    del batch_size
    mean = images.reshape(len(images), -1).astype(np.float64).mean(axis=1)
    features = np.stack([mean, mean ** 2 / 255.0, np.sin(mean)], axis=1)
    nearest = np.clip(np.round((mean - 12) / 25), 0, NUM_CLASSES - 1).astype(np.int64)
    return features, 10.0 * np.eye(NUM_CLASSES)[nearest]


def image_set(count_per_class):
  labels = np.repeat(np.arange(NUM_CLASSES, dtype=np.int32), count_per_class)
  images = np.broadcast_to(np.array([level(k) for k in labels], np.uint8)[:, None, None, None],
                           (len(labels), 4, 4, 1)).copy()
  return data_lib.ImageData(images, labels, tuple(f"class_{k}" for k in range(NUM_CLASSES)), "synthetic")


def generator(levels, label_shape):
  """A generator whose image of class k is the constant levels[k] (in tanh range), whatever its noise."""
  noise = keras.Input((LATENT_DIM,))
  label = keras.Input(label_shape, dtype="int32")
  table = np.array([[value / 127.5 - 1.0] * 16 for value in levels], np.float32)
  image = keras.layers.Embedding(NUM_CLASSES, 16, embeddings_initializer=keras.initializers.Constant(table))(label)
  image = keras.layers.Reshape((4, 4, 1))(image)
  ignored = keras.layers.Reshape((4, 4, 1))(keras.layers.Dense(16, kernel_initializer="zeros", use_bias=False)(noise))
  return keras.Model([noise, label], keras.layers.Add()([image, ignored]))


@pytest.fixture
def measurement():
  config = Config(eval_metrics=",".join(quality.CHECK_METRICS), eval_samples=PER_CLASS * NUM_CLASSES, eval_seed=3)
  return report.Measurement(config, StubEvaluator(), image_set(10), image_set(PER_CLASS))


@pytest.mark.parametrize("label_shape", [(), (1,)])
def test_a_check_is_the_measurements_figures_of_the_generator(measurement, label_shape):
  # Class 2's images look like class 1's: a quarter of the samples are misclassified.
  levels = [level(0), level(1), level(1), level(3)]
  figures = quality.QualityProbe(measurement, LATENT_DIM).measure(generator(levels, label_shape))
  assert figures["conditional_accuracy"] == pytest.approx(0.75)
  assert figures["per_class_accuracy"] == [1.0, 1.0, 0.0, 1.0]
  assert figures["frechet_distance"] > 1.0
  # What --mode=eval reports for the same generator.
  package = measurement.measure(sources.GeneratorSource(generator(levels, label_shape), LATENT_DIM))
  assert (figures["conditional_accuracy"], figures["frechet_distance"]) == (
      package["conditional_accuracy"], package["frechet_distance"])


def test_a_generator_that_draws_the_reference_scores_perfectly(measurement):
  figures = quality.QualityProbe(measurement, LATENT_DIM).measure(
      generator([level(k) for k in range(NUM_CLASSES)], ()))
  assert figures["conditional_accuracy"] == 1.0 and figures["per_class_accuracy"] == [1.0] * NUM_CLASSES
  assert figures["frechet_distance"] == pytest.approx(0.0, abs=1e-6)


def test_a_probe_needs_the_metrics_of_a_check():
  config = Config(eval_metrics="conditional_accuracy", eval_samples=PER_CLASS * NUM_CLASSES)
  with pytest.raises(ValueError, match="a check needs frechet"):
    quality.QualityProbe(report.Measurement(config, StubEvaluator(), image_set(10), image_set(PER_CLASS)),
                         LATENT_DIM)
