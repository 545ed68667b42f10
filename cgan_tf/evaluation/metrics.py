"""The metric registry: each metric maps (a candidate sample set, the real test set) to named figures.

A metric is one function registered by name, with whether it needs the generator's labels and which of
its figures are the headline; `--eval_metrics` lists the names to compute. Candidates are generated images
(conditioned on their labels) or, for the floor, real train images (with their labels).
"""

import dataclasses
from typing import Callable, Dict, Optional, Tuple

import numpy as np

from cgan_tf.evaluation import accuracy
from cgan_tf.evaluation import frechet
from cgan_tf.evaluation import kid
from cgan_tf.evaluation import precision_recall
from cgan_tf.registry import Registry


@dataclasses.dataclass(frozen=True)
class SampleSet:
  """Images with their labels and what the evaluator sees in them.

  Attributes:
    images: uint8 [N, H, W, C].
    labels: int [N]: the conditioning labels of generated images, the true labels of real ones.
    features: float64 [N, D]: the evaluator's penultimate features.
    predictions: int [N]: the evaluator's predicted classes.
    probabilities: float [N, classes]: the evaluator's class probabilities (None where a caller has only
      predictions; the metrics that need them then cannot run).
  """

  images: np.ndarray
  labels: np.ndarray
  features: np.ndarray
  predictions: np.ndarray
  probabilities: Optional[np.ndarray] = None


@dataclasses.dataclass(frozen=True)
class MetricContext:
  """What metrics need beyond the two sample sets."""

  num_classes: int
  seed: int = 0
  cas_epochs: int = 10


Metric = Callable[[SampleSet, SampleSet, MetricContext], Dict[str, float]]


@dataclasses.dataclass(frozen=True)
class Registration:
  """A metric and what the rest of the evaluation needs to know about it.

  Attributes:
    compute: the metric function.
    needs_labels: it compares each sample with its conditioning label, so an unconditional generator
      cannot be measured with it.
    headline: the figures it returns that are printed, logged to TensorBoard and tabled; the others
      (per-class figures, spreads) are in the JSON report and metrics.jsonl only.
    min_per_class: the fewest images of each class it can measure.
  """

  compute: Metric
  needs_labels: bool
  headline: Tuple[str, ...]
  min_per_class: int


METRICS: Registry[Registration] = Registry("metric")


def register(name: str, *, needs_labels: bool = False, headline: Tuple[str, ...] = (), min_per_class: int = 2):
  """Adds the decorated metric to `METRICS` under `name`, with what it needs and what it headlines."""

  def wrap(metric: Metric) -> Metric:
    METRICS.register(name, Registration(metric, needs_labels, tuple(headline), min_per_class))
    return metric

  return wrap


def needs_labels(name: str) -> bool:
  """Whether the metric `name` needs the generator's conditioning labels."""
  return METRICS[name].needs_labels


def headline() -> Tuple[str, ...]:
  """The headline figures of every registered metric, in registration order."""
  return tuple(figure for registration in METRICS.values() for figure in registration.headline)


def _per_class(prefix: str, values) -> Dict[str, float]:
  return {f"{prefix}/class_{k}": float(v) for k, v in enumerate(values)}


@register("conditional_accuracy", needs_labels=True, headline=("conditional_accuracy",))
def _conditional_accuracy(candidate: SampleSet, reference: SampleSet, context: MetricContext):
  del reference  # Judged by the evaluator alone.
  overall, per_class = accuracy.conditional_accuracy(candidate.predictions, candidate.labels,
                                                     context.num_classes)
  return {"conditional_accuracy": overall, **_per_class("conditional_accuracy", per_class)}


@register("unrecognised", needs_labels=True, headline=("unrecognised",))
def _unrecognised(candidate: SampleSet, reference: SampleSet, context: MetricContext):
  del reference  # Judged by the evaluator alone.
  if candidate.probabilities is None:
    raise ValueError("unrecognised needs the evaluator's class probabilities of the samples")
  overall, per_class = accuracy.unrecognised_share(candidate.probabilities, candidate.labels, context.num_classes)
  return {"unrecognised": overall, **_per_class("unrecognised", per_class)}


@register("frechet", headline=("frechet_distance",))
def _frechet(candidate: SampleSet, reference: SampleSet, context: MetricContext):
  del context
  return {"frechet_distance": frechet.frechet_distance(candidate.features, reference.features)}


@register("intra_frechet", needs_labels=True, headline=("intra_frechet_distance",))
def _intra_frechet(candidate: SampleSet, reference: SampleSet, context: MetricContext):
  mean, per_class = frechet.intra_class_frechet_distance(candidate.features, candidate.labels,
                                                         reference.features, reference.labels,
                                                         context.num_classes)
  return {"intra_frechet_distance": mean, **_per_class("frechet_distance", per_class)}


@register("kid", headline=("kid",))
def _kid(candidate: SampleSet, reference: SampleSet, context: MetricContext):
  mean, std = kid.kernel_distance(candidate.features, reference.features, seed=context.seed)
  return {"kid": mean, "kid_std": std}


@register("precision_recall", headline=("precision", "recall"))
def _precision_recall(candidate: SampleSet, reference: SampleSet, context: MetricContext):
  del context
  precision, recall = precision_recall.precision_recall(reference.features, candidate.features)
  return {"precision": precision, "recall": recall}


# Each class's k-nearest-neighbour manifold needs more than k images of that class.
@register("intra_precision_recall", needs_labels=True, headline=("intra_precision", "intra_recall"),
          min_per_class=precision_recall.NEIGHBOURS + 1)
def _intra_precision_recall(candidate: SampleSet, reference: SampleSet, context: MetricContext):
  precision, recall, precisions, recalls = precision_recall.intra_class_precision_recall(
      reference.features, reference.labels, candidate.features, candidate.labels, context.num_classes)
  return {"intra_precision": precision, "intra_recall": recall, **_per_class("precision", precisions),
          **_per_class("recall", recalls)}


@register("cas", needs_labels=True, headline=("cas",))
def _cas(candidate: SampleSet, reference: SampleSet, context: MetricContext):
  return {"cas": accuracy.classification_accuracy_score(
      candidate.images, candidate.labels, reference.images, reference.labels, context.num_classes,
      context.cas_epochs, context.seed)}


def compute(names, candidate: SampleSet, reference: SampleSet, context: MetricContext) -> Dict[str, float]:
  """Runs the named metrics and merges their figures into one flat dict."""
  figures = {}
  for name in names:
    figures.update(METRICS[name].compute(candidate, reference, context))
  return figures
