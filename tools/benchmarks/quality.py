"""Time to quality: a training clock that stops while the project's evaluator measures the generator.

A target names one of TARGETS (conditional accuracy, which saturates early, or the Fréchet distance to the
real test split, which keeps improving) and a threshold; every check records both figures.
"""

import json
import os
import time
from typing import Optional

import numpy as np

from cgan_tf.evaluation import frechet
from cgan_tf.evaluation import sources
from cgan_tf.samples import to_uint8

from tools.benchmarks.common import QUALITY_TARGETS as TARGETS
from tools.benchmarks.common import CHECK_FIELDS, reached


def better(metric: str, value: float, other: float) -> bool:
  return value > other if TARGETS[metric] else value < other


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


class QualityClock:
  """Training seconds to a quality target, with every evaluation left off the clock.

  Call `start()` when training starts, `over_budget()` between steps, and `check(step, generator)` every
  N steps; each check appends one JSON line to `jsonl_path`.

  Args:
    name: the run's name in the JSONL lines.
    probe: a `QualityProbe`.
    metric: the figure of TARGETS the target is on.
    threshold: the value of `metric` to reach (at least, or at most for a distance).
    budget_seconds: training seconds after which to give up.
    jsonl_path: file to append the checks to ('' for none).
    seed: the run's training seed, recorded with each check.
  """

  def __init__(self, name: str, probe: QualityProbe, metric: str, threshold: float, budget_seconds: float,
               jsonl_path: str = "", seed: Optional[int] = None):
    if metric not in TARGETS:
      raise ValueError(f"unknown target metric {metric!r}; known: {', '.join(TARGETS)}")
    self.name = name
    self.probe = probe
    self.metric = metric
    self.threshold = threshold
    self.budget_seconds = budget_seconds
    self.jsonl_path = jsonl_path
    self.seed = seed
    self.trained_seconds = 0.0
    self.running_since: Optional[float] = None
    self.eval_seconds = 0.0
    self.checks = 0
    self.last_step = None
    self.best = None  # (value, training seconds, step) of the best check.
    self.reached = None  # (training seconds, step, value) at the first check that reaches the threshold.

  def start(self) -> None:
    self.running_since = time.perf_counter()

  def seconds(self) -> float:
    """Training seconds so far."""
    running = time.perf_counter() - self.running_since if self.running_since is not None else 0.0
    return self.trained_seconds + running

  def over_budget(self) -> bool:
    return self.seconds() >= self.budget_seconds

  def check(self, step: int, generator) -> bool:
    """Measures the generator with the clock stopped; returns True once the threshold is reached."""
    self.trained_seconds = self.seconds()
    self.running_since = None
    started = time.perf_counter()
    figures = self.probe.measure(generator)
    evaluation = time.perf_counter() - started
    self.eval_seconds += evaluation
    self.checks += 1
    self.last_step = step
    value = figures[self.metric]
    if self.best is None or better(self.metric, value, self.best[0]):
      self.best = (value, self.trained_seconds, step)
    if self.reached is None and reached(self.metric, value, self.threshold):
      self.reached = (self.trained_seconds, step, value)
    record = dict(run=self.name, step=step, train_seconds=round(self.trained_seconds, 3),
                  **{CHECK_FIELDS["conditional_accuracy"]: round(figures["conditional_accuracy"], 5),
                     CHECK_FIELDS["frechet_distance"]: round(figures["frechet_distance"], 4)},
                  per_class=[round(a, 4) for a in figures["per_class_accuracy"]],
                  eval_seconds=round(evaluation, 3), time=time.time())
    if self.seed is not None:
      record["seed"] = self.seed
    if self.jsonl_path:
      os.makedirs(os.path.dirname(os.path.abspath(self.jsonl_path)), exist_ok=True)
      with open(self.jsonl_path, "a") as f:
        f.write(json.dumps(record) + "\n")
    print("PROGRESS " + json.dumps(record), flush=True)
    self.start()
    return self.reached is not None

  def result(self) -> dict:
    """The run's outcome as a JSON-ready dict."""
    best = self.best or (None, None, None)
    return dict(name=self.name, metric=self.metric, threshold=self.threshold, budget_seconds=self.budget_seconds,
                reached=self.reached is not None,
                seconds=self.reached[0] if self.reached else None,
                step=self.reached[1] if self.reached else None,
                value=self.reached[2] if self.reached else None,
                best_value=best[0], best_seconds=best[1], best_step=best[2],
                checks=self.checks, trained_seconds=self.trained_seconds, eval_seconds=self.eval_seconds,
                last_step=self.last_step)
