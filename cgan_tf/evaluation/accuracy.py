"""Accuracy-based metrics: conditional accuracy (does the evaluator see class y in G(z, y)?) and the
classification accuracy score (CAS, Ravuri & Vinyals 2019: does a classifier trained only on G's images
work on real ones?)."""

import numpy as np

from cgan_tf.evaluation import classifier as classifier_lib


def conditional_accuracy(predictions: np.ndarray, labels: np.ndarray, num_classes: int):
  """Fraction of predictions equal to the conditioning labels; returns (overall, list per class)."""
  predictions, labels = np.asarray(predictions), np.asarray(labels)
  per_class = [float(np.mean(predictions[labels == k] == k)) if np.any(labels == k) else float("nan")
               for k in range(num_classes)]
  return float(np.mean(predictions == labels)), per_class


def classification_accuracy_score(train_images: np.ndarray, train_labels: np.ndarray,
                                  test_images: np.ndarray, test_labels: np.ndarray, num_classes: int,
                                  epochs: int, seed: int) -> float:
  """Trains a fresh classifier (the evaluator's architecture) on (train_images, train_labels) only and
  returns its accuracy on the real (test_images, test_labels)."""
  model = classifier_lib.fit_classifier(train_images, train_labels, num_classes, epochs, seed)
  return classifier_lib.accuracy(model, test_images, test_labels)
