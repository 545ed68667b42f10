"""Accuracy-based metrics: conditional accuracy (does the evaluator see class y in G(z, y)?), the
unrecognised share (how often does it give class y at most even odds?) and the classification accuracy score
(CAS, Ravuri & Vinyals 2019: does a classifier trained only on G's images work on real ones?)."""

import numpy as np

from cgan_tf.evaluation import classifier as classifier_lib


def conditional_accuracy(predictions: np.ndarray, labels: np.ndarray, num_classes: int):
  """Fraction of predictions equal to the conditioning labels; returns (overall, list per class)."""
  predictions, labels = np.asarray(predictions), np.asarray(labels)
  per_class = [float(np.mean(predictions[labels == k] == k)) if np.any(labels == k) else float("nan")
               for k in range(num_classes)]
  return float(np.mean(predictions == labels)), per_class


# An image whose own class gets at most this probability is not recognised as that class: the evaluator
# finds another class at least as likely.
RECOGNISED_ABOVE = 0.5


def softmax(logits: np.ndarray) -> np.ndarray:
  """Class probabilities [N, classes] of logits [N, classes], computed stably in float64."""
  shifted = np.asarray(logits, np.float64) - np.max(logits, axis=-1, keepdims=True)
  exponentials = np.exp(shifted)
  return exponentials / np.sum(exponentials, axis=-1, keepdims=True)


def unrecognised_share(probabilities: np.ndarray, labels: np.ndarray, num_classes: int,
                       threshold: float = RECOGNISED_ABOVE):
  """Fraction of samples whose own class gets probability <= `threshold`; returns (overall, list per class).

  Conditional accuracy counts an image as its class when that class is the most likely one, however
  narrowly; this counts the images the evaluator does not find clearly of their class.

  Args:
    probabilities: float [N, classes], each row summing to 1.
    labels: int [N], each sample's own (conditioning or true) class.
    num_classes: classes to report (a class without samples gives NaN).
    threshold: the probability an image's own class must exceed to count as recognised.
  """
  probabilities, labels = np.asarray(probabilities), np.asarray(labels)
  unrecognised = probabilities[np.arange(len(labels)), labels] <= threshold
  per_class = [float(np.mean(unrecognised[labels == k])) if np.any(labels == k) else float("nan")
               for k in range(num_classes)]
  return float(np.mean(unrecognised)), per_class


def classification_accuracy_score(train_images: np.ndarray, train_labels: np.ndarray,
                                  test_images: np.ndarray, test_labels: np.ndarray, num_classes: int,
                                  epochs: int, seed: int) -> float:
  """Trains a fresh classifier (the evaluator's architecture) on (train_images, train_labels) only and
  returns its accuracy on the real (test_images, test_labels)."""
  model = classifier_lib.fit_classifier(train_images, train_labels, num_classes, epochs, seed)
  return classifier_lib.accuracy(model, test_images, test_labels)
