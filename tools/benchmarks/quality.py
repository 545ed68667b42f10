"""What a time-to-quality check measures: the package's evaluation (report.Measurement) of a generator.

Loaded only by the time-to-quality children (it imports TensorFlow and cgan_tf).
"""

from cgan_tf import data as data_lib
from cgan_tf.evaluation import evaluator as evaluator_lib
from cgan_tf.evaluation import report
from cgan_tf.evaluation import sources

# The metric registry's entries a check runs (cgan_tf.evaluation.metrics): the conditional accuracy with
# its per-class figures, and the Fréchet distance to the real test split.
CHECK_METRICS = ("conditional_accuracy", "frechet")


class QualityProbe:
  """A generator's conditional accuracy (the share of G(z, y) the evaluator classifies as y), overall and
  per class, and the Fréchet distance of its images to the real test split in the evaluator's feature
  space: the figures --mode=eval reports, from the same `Measurement`.

  Every check generates `per_class` images of every class from the same noise (--mode=eval's, drawn from
  the measurement's seed and the class), so two checks differ only by the generator.

  Args:
    measurement: the data set's evaluator and real splits, its metrics including CHECK_METRICS.
    latent_dim: the generator's noise size.
    output: the generator's last activation ('tanh' or 'sigmoid'), for the conversion to uint8.
    noise: 'normal' or 'uniform' (in [-1, 1)), as the generator was trained.
  """

  def __init__(self, measurement: report.Measurement, latent_dim: int, output: str = "tanh",
               noise: str = "normal"):
    missing = [name for name in CHECK_METRICS if name not in measurement.names]
    if missing:
      raise ValueError(f"the measurement runs {', '.join(measurement.names)}; a check needs {', '.join(missing)}")
    self.measurement = measurement
    self.latent_dim = latent_dim
    self.output = output
    self.noise = noise

  def measure(self, generator) -> dict:
    """{conditional_accuracy, frechet_distance, per_class_accuracy} of `generator` (Keras, [noise, label])."""
    # The source loop's generator takes labels of shape [batch, 1] and cgan_tf's [batch]: a Keras functional
    # model adds the missing axis of size 1 itself, so the package's source serves both.
    figures = self.measurement.measure(sources.GeneratorSource(generator, self.latent_dim, "time-to-quality check",
                                                               self.output, self.noise))
    return dict(conditional_accuracy=figures["conditional_accuracy"],
                frechet_distance=figures["frechet_distance"],
                per_class_accuracy=[figures[f"conditional_accuracy/class_{k}"]
                                    for k in range(self.measurement.num_classes)])


def prepare(config, per_class: int, latent_dim: int, output: str = "tanh", noise: str = "normal",
            seed: int = 0) -> QualityProbe:
  """The probe of `config`'s data set: its real splits and its evaluator, loaded once as --mode=eval loads
  them (`report.prepare`), for checks of `per_class` images of every class.

  Args:
    config: a cgan_tf Config naming the data set (and the evaluator's cache).
    per_class: images generated per class at each check.
    latent_dim: the generator's noise size.
    output: the generator's last activation.
    noise: the noise distribution the generator was trained on.
    seed: seed of the evaluation noise (--eval_seed).

  Raises:
    ConfigError: per_class is below what a check's metrics need, or the cached evaluator was trained on
      other data.
  """
  train_data = data_lib.load(config, "train")
  test_data = data_lib.load(config, "test")
  # The number of classes is the test split's, so the sample count follows from it (as --eval_samples).
  checks = config.replace(eval_metrics=",".join(CHECK_METRICS), eval_seed=seed,
                          eval_samples=per_class * len(test_data.class_names))
  measurement = report.Measurement(checks, evaluator_lib.load_evaluator(checks, train_data), train_data, test_data)
  return QualityProbe(measurement, latent_dim, output, noise)
