"""Measuring a generator: all metrics for a sample source next to the real-data floor, and --mode=eval.

The reference is always the real test split. The floor is the same figures for real train images in
place of generated ones (as many, equal per class): what a perfect generator would score with this
evaluator and sample size.
"""

import os
import time

from absl import logging
import numpy as np
import tensorflow as tf

from cgan_tf import data as data_lib
from cgan_tf import files
from cgan_tf import networks
from cgan_tf import trained_run
from cgan_tf import validation
from cgan_tf.config import Config, ConfigError
from cgan_tf.evaluation import accuracy
from cgan_tf.evaluation import evaluator as evaluator_lib
from cgan_tf.evaluation import metrics as metrics_lib
from cgan_tf.evaluation import sources
from cgan_tf.run_dir import RunDir

# --eval_source values that name a checkpoint of the run, and which of its generators each restores.
CHECKPOINT_SOURCES = {"checkpoint": "newest", "best": "best"}


class Abandoned(Exception):
  """A measurement stopped part-way because `should_stop` said so (training is stopping on a signal)."""


def _check(should_stop) -> None:
  if should_stop is not None and should_stop():
    raise Abandoned("stopping")


def metric_names(config: Config) -> list:
  return [name for name in config.eval_metrics.split(",") if name]


class Measurement:
  """The evaluator, the real test reference and the real train floor of one data set, prepared once.

  Args:
    config: the configuration (resolved: num_classes filled in).
    evaluator: the trained evaluator.
    train_data: the real train split (for the floor).
    test_data: the real test split (the reference).
    samples_flag: the field that says how many images a measurement takes: eval_samples (--mode=eval) or
      train_eval_samples (each measurement during training).
  """

  def __init__(self, config: Config, evaluator: evaluator_lib.Evaluator, train_data: data_lib.ImageData,
               test_data: data_lib.ImageData, samples_flag: str = "eval_samples"):
    self.num_classes = len(test_data.class_names)
    samples = getattr(config, samples_flag)
    self.per_class = samples // self.num_classes
    self.conditional = not config.unconditional
    self.names = metric_names(config)
    if not self.conditional:
      skipped = [name for name in self.names if metrics_lib.needs_labels(name)]
      if skipped:
        logging.info("Unconditional generator: skipping %s, which need the generator's labels", ", ".join(skipped))
      self.names = [name for name in self.names if not metrics_lib.needs_labels(name)]
      if not self.names:
        label_free = [name for name in metrics_lib.METRICS if not metrics_lib.needs_labels(name)]
        raise ConfigError(f"--eval_metrics: {config.eval_metrics!r} are all about classes, and this generator "
                          f"has none; add one of {', '.join(label_free)}")
    needed = {name: metrics_lib.METRICS[name].min_per_class for name in self.names}
    short = [f"{name} needs {count}" for name, count in needed.items() if self.per_class < count]
    if short:
      raise ConfigError(f"--{samples_flag}: {samples} gives {self.per_class} images for each of the "
                        f"{self.num_classes} classes; {', '.join(short)}")
    self.seed = config.eval_seed
    self.evaluator = evaluator
    self.context = metrics_lib.MetricContext(self.num_classes, config.eval_seed, config.cas_epochs)
    self.train_data = train_data
    self.reference = self.sample_set(test_data.images, test_data.labels)
    self._floor = None

  def sample_set(self, images: np.ndarray, labels: np.ndarray) -> metrics_lib.SampleSet:
    features, logits = self.evaluator.features_and_logits(images)
    return metrics_lib.SampleSet(images, np.asarray(labels, np.int64), features, np.argmax(logits, axis=-1),
                                 accuracy.softmax(logits))

  def measure_images(self, images: np.ndarray, labels: np.ndarray, should_stop=None) -> dict:
    """The figures of these images; `should_stop` (a callable, or None) is asked between metrics.

    Raises:
      Abandoned: when `should_stop()` turned true.
    """
    sample_set = self.sample_set(images, labels)
    figures = {}
    for name in self.names:
      _check(should_stop)
      figures.update(metrics_lib.compute([name], sample_set, self.reference, self.context))
    return figures

  def measure(self, source: sources.SampleSource, should_stop=None) -> dict:
    """The figures of `per_class` images of every class from `source` (as many without labels, for an
    unconditional generator; its labels are then unknown, -1, and only label-free metrics run).

    Args:
      source: what to measure.
      should_stop: a callable asked between classes and between metrics, or None.

    Raises:
      Abandoned: when `should_stop()` turned true.
    """
    if not self.conditional:
      count = self.per_class * self.num_classes
      return self.measure_images(source.generate(-1, count, self.seed), np.full([count], -1), should_stop)
    images = []
    for label in range(self.num_classes):
      _check(should_stop)
      images.append(source.generate(label, self.per_class, self.seed))
    labels = np.repeat(np.arange(self.num_classes), self.per_class)
    return self.measure_images(np.concatenate(images), labels, should_stop)

  def floor(self, should_stop=None) -> dict:
    """The figures of real train images (a seeded draw of `per_class` per class), computed once.

    Raises:
      Abandoned: when `should_stop()` turned true (nothing is kept; the next call starts again).
    """
    if self._floor is None:
      rng = np.random.default_rng(self.seed)
      chosen = np.concatenate([
          rng.choice(np.flatnonzero(self.train_data.labels == k),
                     min(self.per_class, int(np.sum(self.train_data.labels == k))), replace=False)
          for k in range(self.num_classes)])
      self._floor = self.measure_images(self.train_data.images[chosen], self.train_data.labels[chosen],
                                        should_stop)
    return self._floor


def generator_source(generator, config: Config, description: str) -> sources.GeneratorSource:
  """A sample source for a Keras generator of the run `config` (its output range and noise)."""
  return sources.GeneratorSource(generator, config.latent_dim, description, networks.get(config.network).output,
                                 config.noise)


def prepare(config: Config, samples_flag: str = "eval_samples") -> Measurement:
  """Loads both real splits and the data set's evaluator (training it if the cache has none); each
  measurement takes the images `samples_flag` names (see `Measurement`)."""
  train_data = data_lib.load(config, "train")
  test_data = data_lib.load(config, "test")
  evaluator = evaluator_lib.load_evaluator(config, train_data)
  return Measurement(config, evaluator, train_data, test_data, samples_flag)


def format_table(generated: dict, floor: dict) -> str:
  """The headline figures, generated beside the real-data floor."""
  lines = [f"{'metric':<24}{'generated':>12}{'real train':>12}"]
  for name in metrics_lib.headline():
    if name in generated:
      lines.append(f"{name:<24}{generated[name]:>12.4f}{floor.get(name, float('nan')):>12.4f}")
  return "\n".join(lines)


def train_evaluator(config: Config) -> dict:
  """--mode=train_evaluator: trains and caches the evaluator; returns its metadata."""
  evaluator = evaluator_lib.train_evaluator(config)
  print(f"evaluator for {config.dataset}: test accuracy {evaluator.info['test_accuracy']:.4f} "
        f"({evaluator.info['epochs']} epochs, {evaluator.info['train_seconds']:.0f} s), in "
        f"{evaluator_lib.cache_dir(config)}")
  return evaluator.info


def resolve_source(config: Config):
  """The configuration of the run being measured and its sample source; returns (config, source, step).

  Raises:
    ConfigError: no trained run, no checkpoint, or no usable SavedModel.
  """
  from_checkpoint = config.eval_source in CHECKPOINT_SOURCES
  run_config = None
  if config.run_dir:
    run_config = trained_run.load_run_config(config, trained_run.EVAL_FIELDS, required=from_checkpoint)
  run_config = run_config or config  # A SavedModel alone: the data set comes from the flags.
  if from_checkpoint:
    validation.check_architecture(run_config)
    generator, path = trained_run.load_generator(run_config, CHECKPOINT_SOURCES[config.eval_source])
    return (run_config, generator_source(generator, run_config, f"{config.eval_source}:{os.path.basename(path)}"),
            trained_run.checkpoint_step(path))
  source = sources.SavedModelSource(config.eval_source)
  step = source.metadata.get("training_step")
  return run_config, source, (int(step) if step is not None else None)


def evaluate(config: Config) -> dict:
  """--mode=eval: measures a checkpoint or an exported SavedModel; writes and returns the JSON report."""
  start = time.time()
  run_config, source, step = resolve_source(config)
  source.truncation = config.truncation
  measurement = prepare(run_config)
  test_classes = measurement.num_classes
  if run_config.num_classes and run_config.num_classes != test_classes:
    raise ConfigError(f"--dataset: the generator has {run_config.num_classes} classes, the test split of "
                      f"{run_config.dataset} has {test_classes}")
  generated = measurement.measure(source)
  floor = measurement.floor()
  report = dict(
      source=source.description, step=step, dataset=run_config.dataset,
      class_names=list(measurement.train_data.class_names), metrics=measurement.names,
      eval_samples=measurement.per_class * test_classes, per_class=measurement.per_class,
      eval_seed=config.eval_seed, truncation=config.truncation, reference="real test split "
      f"({len(measurement.reference.labels)} images)",
      # The evaluator by what it is, not where this machine caches it: the report is published.
      evaluator=dict(dataset=run_config.dataset, epochs=measurement.evaluator.info.get("epochs"),
                     test_accuracy=measurement.evaluator.info.get("test_accuracy")),
      headline=[name for name in metrics_lib.headline() if name in generated],
      generated=generated, real_train=floor, seconds=round(time.time() - start, 1))
  path = config.eval_report or RunDir(config.run_dir).eval_report
  if os.path.dirname(path):
    tf.io.gfile.makedirs(os.path.dirname(path))
  files.write_json_atomically(path, report, indent=2)
  truncated = f", noise truncated at {config.truncation:g}" if config.truncation else ""
  print(f"{source.description} (step {step}){truncated}, {report['eval_samples']} samples against the "
        f"{report['reference']}:\n{format_table(generated, floor)}\nreport: {path}")
  logging.info("Wrote %s", path)
  return report
