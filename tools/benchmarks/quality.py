"""What a time-to-quality check measures: a generator's conditional accuracy and Fréchet distance.

Loaded only by the time-to-quality children (it imports TensorFlow and cgan_tf).
"""

import numpy as np

from cgan_tf.evaluation import frechet
from cgan_tf.evaluation import sources
from cgan_tf.samples import to_uint8


class QualityProbe:
  """A generator's conditional accuracy (the share of G(z, y) the evaluator classifies as y) and the
  Fréchet distance of its images to the real reference, in the evaluator's feature space.

  The same noise (seeded once) and `per_class` images of every class are used at every check, so two
  checks differ only by the generator.

  Args:
    evaluator: from `cgan_tf.evaluation.evaluator.load_evaluator`.
    reference_images: uint8 real images (the test split) the distance is measured to.
    num_classes: classes to condition on.
    latent_dim: the generator's noise size.
    per_class: images generated per class.
    output: the generator's last activation ('tanh' or 'sigmoid'), for the conversion to uint8.
    noise: 'normal' or 'uniform' (in [-1, 1)), as the generator was trained.
    seed: seed of the evaluation noise.
    batch_size: images per generator call.
  """

  def __init__(self, evaluator, reference_images, num_classes: int, latent_dim: int, per_class: int,
               output: str = "tanh", noise: str = "normal", seed: int = 0, batch_size: int = 500):
    # --mode=eval's noise for (seed, class), so a probe and an evaluation with one seed see the same inputs.
    self.noise = np.concatenate([sources.class_noise(label, per_class, latent_dim, seed, noise)
                                 for label in range(num_classes)])
    self.labels = np.repeat(np.arange(num_classes, dtype=np.int32), per_class)
    self.evaluator = evaluator
    self.num_classes = num_classes
    self.output = output
    self.batch_size = batch_size
    self.reference = frechet.statistics(evaluator.features_and_predictions(reference_images)[0])

  def measure(self, generator) -> dict:
    """{conditional_accuracy, frechet_distance, per_class_accuracy} of `generator` (Keras, [noise, label])."""
    import tensorflow as tf

    # The source's generator takes labels of shape [batch, 1], cgan_tf's [batch].
    label_rank = len(generator.inputs[1].shape)
    images = []
    for start in range(0, len(self.labels), self.batch_size):
      labels = self.labels[start:start + self.batch_size]
      labels = labels[:, None] if label_rank == 2 else labels
      batch = generator([tf.constant(self.noise[start:start + self.batch_size]), tf.constant(labels)],
                        training=False)
      images.append(to_uint8(batch, self.output))
    features, predictions = self.evaluator.features_and_predictions(np.concatenate(images))
    correct = predictions == self.labels
    per_class = [float(np.mean(correct[self.labels == k])) for k in range(self.num_classes)]
    distance = frechet.frechet_distance_from_statistics(*frechet.statistics(features), *self.reference)
    return dict(conditional_accuracy=float(np.mean(correct)), frechet_distance=float(distance),
                per_class_accuracy=per_class)
