"""Tests of the evaluation maths (Fréchet distance, KID, accuracies), the metric registry, the plot tool
and the measuring flags. No training here; see test_evaluation_e2e.py for the trained pieces."""

import json
import os
import subprocess
import sys
import types

import numpy as np
from PIL import Image
import pytest

from cgan_tf.config import Config, ConfigError
from cgan_tf.evaluation import accuracy
from cgan_tf.evaluation import frechet
from cgan_tf.evaluation import kid
from cgan_tf.evaluation import metrics
from cgan_tf.evaluation import sources
from cgan_tf import validation

from tests.helpers.data import REPO_ROOT



def _random_covariance(rng, dim):
  a = rng.standard_normal((dim, dim))
  return a @ a.T / dim + 0.1 * np.eye(dim)


def _gaussian(rng, mean, covariance, count):
  return rng.multivariate_normal(mean, covariance, size=count)


# --- Fréchet distance ------------------------------------------------------------------------------


def test_frechet_of_identical_statistics_is_zero():
  rng = np.random.default_rng(0)
  sigma = _random_covariance(rng, 16)
  mu = rng.standard_normal(16)
  assert frechet.frechet_distance_from_statistics(mu, sigma, mu, sigma) == pytest.approx(0.0, abs=1e-9)


def test_trace_sqrt_product_of_a_matrix_with_itself_is_its_trace():
  sigma = _random_covariance(np.random.default_rng(1), 12)
  assert frechet.trace_sqrt_product(sigma, sigma) == pytest.approx(np.trace(sigma), rel=1e-10)


def test_frechet_matches_closed_form_for_commuting_covariances():
  # Diagonal covariances commute: d^2 = |mu1 - mu2|^2 + sum_i (sqrt(a_i) - sqrt(b_i))^2.
  rng = np.random.default_rng(2)
  a, b = rng.uniform(0.1, 3.0, 10), rng.uniform(0.1, 3.0, 10)
  mu_1, mu_2 = rng.standard_normal(10), rng.standard_normal(10)
  expected = np.sum((mu_1 - mu_2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
  got = frechet.frechet_distance_from_statistics(mu_1, np.diag(a), mu_2, np.diag(b))
  assert got == pytest.approx(expected, rel=1e-10)


def test_frechet_matches_closed_form_for_scaled_covariance():
  # S2 = c^2 S1 (not diagonal): (S1 S2)^(1/2) = c S1, so d^2 = |dmu|^2 + (1 - c)^2 tr(S1).
  rng = np.random.default_rng(3)
  sigma = _random_covariance(rng, 20)
  shift = rng.standard_normal(20)
  got = frechet.frechet_distance_from_statistics(np.zeros(20), sigma, shift, 4.0 * sigma)
  assert got == pytest.approx(shift @ shift + (1 - 2.0) ** 2 * np.trace(sigma), rel=1e-9)


def test_frechet_agrees_with_scipy_sqrtm_on_general_covariances():
  linalg = pytest.importorskip("scipy.linalg")  # scipy is not a dependency, only a cross-check.
  rng = np.random.default_rng(4)
  s1, s2 = _random_covariance(rng, 32), _random_covariance(rng, 32)
  m1, m2 = rng.standard_normal(32), rng.standard_normal(32)
  expected = (np.sum((m1 - m2) ** 2) + np.trace(s1) + np.trace(s2)
              - 2 * np.trace(linalg.sqrtm(s1 @ s2).real))
  assert frechet.frechet_distance_from_statistics(m1, s1, m2, s2) == pytest.approx(expected, rel=1e-8)


def test_frechet_of_two_samples_of_one_gaussian_is_near_zero():
  rng = np.random.default_rng(5)
  sigma, mu = _random_covariance(rng, 8), rng.standard_normal(8)
  distance = frechet.frechet_distance(_gaussian(rng, mu, sigma, 20000), _gaussian(rng, mu, sigma, 20000))
  assert 0.0 <= distance < 0.01


def test_frechet_of_samples_with_shifted_means_is_the_squared_shift():
  rng = np.random.default_rng(6)
  sigma = _random_covariance(rng, 8)
  shift = np.full(8, 0.5)  # |shift|^2 = 2.
  distance = frechet.frechet_distance(_gaussian(rng, np.zeros(8), sigma, 20000),
                                      _gaussian(rng, shift, sigma, 20000))
  assert distance == pytest.approx(2.0, abs=0.05)


def test_frechet_handles_rank_deficient_features():
  # Fewer samples than dimensions (a small class) or dead ReLU units give singular covariances.
  rng = np.random.default_rng(7)
  x = np.concatenate([rng.standard_normal((5, 4)), np.zeros((5, 12))], axis=1)
  y = np.concatenate([rng.standard_normal((5, 4)) + 1, np.zeros((5, 12))], axis=1)
  distance = frechet.frechet_distance(x, y)
  assert np.isfinite(distance) and distance > 0


def test_intra_class_frechet_is_the_mean_over_classes():
  rng = np.random.default_rng(8)
  x, y = rng.standard_normal((300, 4)), rng.standard_normal((300, 4)) + 0.3
  labels = np.arange(300) % 3
  mean, per_class = frechet.intra_class_frechet_distance(x, labels, y, labels, 3)
  assert per_class == [pytest.approx(frechet.frechet_distance(x[labels == k], y[labels == k]))
                       for k in range(3)]
  assert mean == pytest.approx(np.mean(per_class))


# --- KID -------------------------------------------------------------------------------------------


def test_kid_is_near_zero_for_one_distribution_and_positive_for_different_ones():
  rng = np.random.default_rng(9)
  sigma = _random_covariance(rng, 16)
  x, y = _gaussian(rng, np.zeros(16), sigma, 4000), _gaussian(rng, np.zeros(16), sigma, 4000)
  z = _gaussian(rng, np.full(16, 0.5), sigma, 4000)
  same, same_std = kid.kernel_distance(x, y, num_subsets=50, subset_size=1000)
  different, _ = kid.kernel_distance(x, z, num_subsets=50, subset_size=1000)
  assert abs(same) < 3 * same_std + 1e-3
  assert different > 0.05
  assert different > 20 * abs(same)


def test_mmd2_unbiased_leaves_out_the_diagonal():
  x = np.array([[1.0, 0.0], [0.0, 1.0]])
  # Identical sets: the unbiased estimate is k(x1,x2)+k(x2,x1) terms only, minus all cross terms.
  k = kid.polynomial_kernel(x, x)
  expected = 2 * (k[0, 1] + k[1, 0]) / 2 - 2 * k.mean()
  assert kid.mmd2_unbiased(x, x) == pytest.approx(expected)


# --- Accuracies and the registry -------------------------------------------------------------------


def test_conditional_accuracy_overall_and_per_class():
  predictions = np.array([0, 0, 1, 1, 2, 0])
  labels = np.array([0, 0, 1, 2, 2, 2])
  overall, per_class = accuracy.conditional_accuracy(predictions, labels, 3)
  assert overall == pytest.approx(4 / 6)
  assert per_class == pytest.approx([1.0, 1.0, 1 / 3])


def test_unrecognised_counts_own_class_probabilities_at_most_one_half():
  # Own-class probabilities 0.9, 0.5 (exactly even odds: not recognised), 0.2, 0.6, 0.1 and 0.51.
  probabilities = np.array([[0.9, 0.1, 0.0], [0.5, 0.5, 0.0], [0.8, 0.2, 0.0],
                            [0.2, 0.6, 0.2], [0.0, 0.9, 0.1], [0.0, 0.49, 0.51]])
  labels = np.array([0, 0, 1, 1, 2, 2])
  overall, per_class = accuracy.unrecognised_share(probabilities, labels, 4)
  assert overall == pytest.approx(3 / 6)
  assert per_class[:3] == pytest.approx([0.5, 0.5, 0.5]) and np.isnan(per_class[3])
  # An image can be predicted as its class and still not be recognised: argmax 0 at probability 0.4.
  narrow = np.array([[0.4, 0.3, 0.3]])
  assert accuracy.conditional_accuracy(np.argmax(narrow, -1), [0], 3)[0] == 1.0
  assert accuracy.unrecognised_share(narrow, np.array([0]), 3)[0] == 1.0


def test_softmax_of_logits_is_stable_and_sums_to_one():
  logits = np.array([[1000.0, 1000.0, -1000.0], [0.0, np.log(3.0), -np.inf]])
  probabilities = accuracy.softmax(logits)
  np.testing.assert_allclose(probabilities, [[0.5, 0.5, 0.0], [0.25, 0.75, 0.0]], atol=1e-12)


def test_unrecognised_metric_reports_overall_and_per_class_and_needs_probabilities():
  labels = np.array([0, 0, 1, 1])
  probabilities = np.array([[0.7, 0.3], [0.2, 0.8], [0.1, 0.9], [0.6, 0.4]])
  candidate = metrics.SampleSet(np.zeros((4, 2, 2, 1), np.uint8), labels, np.zeros((4, 3)),
                                np.argmax(probabilities, -1), probabilities)
  figures = metrics.compute(["unrecognised"], candidate, candidate, metrics.MetricContext(num_classes=2))
  assert figures == pytest.approx({"unrecognised": 0.5, "unrecognised/class_0": 0.5, "unrecognised/class_1": 0.5})
  assert "unrecognised" in metrics.headline()
  with pytest.raises(ValueError, match="probabilities"):
    metrics.compute(["unrecognised"], metrics.SampleSet(candidate.images, labels, candidate.features, labels),
                    candidate, metrics.MetricContext(num_classes=2))


def test_registry_computes_named_metrics_only():
  rng = np.random.default_rng(10)
  labels = np.arange(40) % 2
  make = lambda shift: metrics.SampleSet(np.zeros((40, 4, 4, 1), np.uint8), labels,  # noqa: E731
                                         rng.standard_normal((40, 3)) + shift, labels)
  figures = metrics.compute(["conditional_accuracy", "frechet", "intra_frechet", "kid", "precision_recall",
                             "intra_precision_recall"], make(0.0), make(1.0), metrics.MetricContext(num_classes=2))
  assert figures["conditional_accuracy"] == 1.0
  assert set(figures) >= {"frechet_distance", "intra_frechet_distance", "kid", "kid_std",
                          "frechet_distance/class_0", "conditional_accuracy/class_1", "precision", "recall",
                          "intra_precision", "intra_recall", "precision/class_0", "recall/class_1"}
  assert "cas" not in figures
  assert figures["frechet_distance"] > 1.0
  for name in ("precision", "recall", "intra_precision", "recall/class_0"):
    assert 0.0 <= figures[name] <= 1.0


def test_registrations_say_which_metrics_need_labels_and_what_they_headline():
  assert [name for name in metrics.METRICS if metrics.needs_labels(name)] == [
      "conditional_accuracy", "unrecognised", "intra_frechet", "intra_precision_recall", "cas"]
  headline = metrics.headline()
  assert {"frechet_distance", "kid", "precision", "recall", "intra_precision", "intra_recall",
          "unrecognised"} <= set(headline)
  assert not any("/class_" in name or name == "kid_std" for name in headline)
  assert {"precision_recall", "intra_precision_recall", "unrecognised"} <= set(Config().eval_metrics.split(","))


@pytest.mark.parametrize("eval_samples, eval_metrics, needs", [
    (19, "frechet", "frechet needs 2"),
    (39, "frechet,intra_precision_recall", "intra_precision_recall needs 4"),
])
def test_too_few_samples_per_class_for_a_metric_name_the_flag(eval_samples, eval_metrics, needs):
  from cgan_tf.evaluation import report

  ten_classes = types.SimpleNamespace(class_names=[str(k) for k in range(10)])
  config = Config(eval_samples=eval_samples, eval_metrics=eval_metrics)
  with pytest.raises(ConfigError, match=f"--eval_samples.*{needs}"):
    report.Measurement(config, None, None, ten_classes)


def test_printed_table_puts_precision_and_recall_beside_their_floor():
  from cgan_tf.evaluation import report  # Imports TensorFlow; the maths tests above do not need it.

  generated = dict(frechet_distance=25.0, precision=0.61, recall=0.25, intra_precision=0.55,
                   intra_recall=0.2, **{"precision/class_0": 0.5})
  floor = dict(frechet_distance=0.4, precision=0.78, recall=0.77, intra_precision=0.74, intra_recall=0.73)
  rows = {line.split()[0]: line.split()[1:] for line in report.format_table(generated, floor).splitlines()[1:]}
  assert rows["precision"] == ["0.6100", "0.7800"] and rows["recall"] == ["0.2500", "0.7700"]
  assert rows["intra_recall"] == ["0.2000", "0.7300"]
  assert "precision/class_0" not in rows and "kid" not in rows


def test_class_noise_is_a_pure_function_of_its_arguments():
  a = sources.class_noise(3, 5, 8, seed=1)
  assert a.dtype == np.float32 and a.shape == (5, 8)
  np.testing.assert_array_equal(a, sources.class_noise(3, 5, 8, seed=1))
  assert not np.allclose(a, sources.class_noise(4, 5, 8, seed=1))
  assert not np.allclose(a, sources.class_noise(3, 5, 8, seed=2))


@pytest.mark.parametrize("distribution", ["normal", "uniform"])
def test_truncated_class_noise_keeps_components_within_the_bound_and_redraws_the_rest(distribution):
  free = sources.class_noise(3, 200, 16, seed=1, distribution=distribution)
  truncated = sources.class_noise(3, 200, 16, seed=1, distribution=distribution, truncation=0.5)
  assert truncated.dtype == np.float32 and np.max(np.abs(truncated)) <= 0.5
  inside = np.abs(free) <= 0.5
  np.testing.assert_array_equal(truncated[inside], free[inside])
  # Redrawn, not clipped: hardly any component sits on the bound itself.
  assert np.mean(np.abs(truncated[~inside]) == 0.5) < 0.01 and np.std(truncated[~inside]) > 0.2
  np.testing.assert_array_equal(truncated, sources.class_noise(3, 200, 16, seed=1, distribution=distribution,
                                                               truncation=0.5))


# --- Flags -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("changes, flag", [
    (dict(eval_metrics="frechet,fid_inception"), "--eval_metrics"),
    (dict(eval_samples=0), "--eval_samples"),
    (dict(eval_every=-1), "--eval_every"),
    (dict(eval_every=3, steps_per_execution=2), "--eval_every"),
    (dict(keep_best=True, eval_every=0), "--keep_best"),
    (dict(keep_best=True, eval_every=10, eval_metrics="kid"), "--keep_best"),
    (dict(mode="eval", run_dir="", eval_source="/models/cgan/1"), "--run_dir"),
])
def test_invalid_measuring_flags_name_the_flag(changes, flag):
  values = dict(run_dir="/tmp/run")
  values.update(changes)
  with pytest.raises(ConfigError, match=flag):
    validation.validate(Config(**values))


def test_valid_measuring_configurations():
  validation.validate(Config(mode="train_evaluator", run_dir=""))
  validation.validate(Config(mode="eval", run_dir="", eval_source="/models/cgan", eval_report="/tmp/r.json"))
  validation.validate(Config(run_dir="/tmp/run", eval_every=500, keep_best=True))


# --- The plot --------------------------------------------------------------------------------------


def test_plot_metrics_draws_every_measured_metric(tmp_path):
  path = tmp_path / "metrics.jsonl"
  lines = [dict(step=2, source="real_train", conditional_accuracy=0.95, frechet_distance=1.0)]
  lines += [dict(step=s, source="generated", conditional_accuracy=0.1 * s, frechet_distance=10.0 / s)
            for s in (2, 4, 6)]
  path.write_text("".join(json.dumps(line) + "\n" for line in lines))
  output = tmp_path / "metrics.png"
  result = subprocess.run([sys.executable, os.path.join(REPO_ROOT, "tools", "plot_metrics.py"),
                           f"--metrics={path}", f"--output={output}"], capture_output=True, text=True)
  assert result.returncode == 0, result.stderr
  image = np.asarray(Image.open(output).convert("RGB"))
  # Two panels side by side, one row; the curve's blue and the floor's red are both drawn.
  assert image.shape[1] == 2 * 520
  assert np.any(np.all(image == (31, 119, 180), axis=-1))
  assert np.any(np.all(image == (214, 39, 40), axis=-1))


def test_plot_metrics_refuses_a_file_without_measurements(tmp_path):
  path = tmp_path / "metrics.jsonl"
  path.write_text(json.dumps(dict(step=1, source="real_train", kid=0.0)) + "\n")
  result = subprocess.run([sys.executable, os.path.join(REPO_ROOT, "tools", "plot_metrics.py"),
                           f"--metrics={path}", f"--output={tmp_path / 'x.png'}"],
                          capture_output=True, text=True)
  assert result.returncode == 2 and "no measurements" in result.stderr


def test_plot_metrics_labels_steps_with_minutes_only_at_a_valid_rate(tmp_path):
  from tools import plot_metrics
  path = tmp_path / "metrics.jsonl"
  path.write_text("".join(json.dumps(dict(step=s, source="generated", kid=1.0 / s)) + "\n" for s in (600, 1200)))
  plain = np.asarray(Image.open(plot_metrics.plot(str(path), str(tmp_path / "a.png"))).convert("L"))
  timed = np.asarray(Image.open(plot_metrics.plot(str(path), str(tmp_path / "b.png"),
                                                  steps_per_second=10.0)).convert("L"))
  assert plain.shape == timed.shape and not np.array_equal(plain, timed)  # The minute labels are drawn.
  result = subprocess.run([sys.executable, os.path.join(REPO_ROOT, "tools", "plot_metrics.py"),
                           f"--metrics={path}", f"--output={tmp_path / 'c.png'}", "--steps_per_second=-1"],
                          capture_output=True, text=True)
  assert result.returncode == 2 and "--steps_per_second must be >= 0" in result.stderr


def test_plot_metrics_draws_several_runs_in_their_own_colours(tmp_path):
  from tools import plot_metrics
  paths = []
  for seed, offset in ((0, 0.0), (1, 5.0)):
    path = tmp_path / f"seed{seed}.jsonl"
    lines = [dict(step=s, source="generated", frechet_distance=10.0 / s + offset) for s in (2, 4, 6)]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    paths.append(str(path))
  output = tmp_path / "seeds.png"
  result = subprocess.run([sys.executable, os.path.join(REPO_ROOT, "tools", "plot_metrics.py"),
                           f"--metrics={paths[0]}", f"--metrics={paths[1]}", "--labels=seed 0,seed 1",
                           f"--output={output}"], capture_output=True, text=True)
  assert result.returncode == 0, result.stderr
  image = np.asarray(Image.open(output).convert("RGB"))
  for colour in plot_metrics.CURVES[:2]:
    assert np.any(np.all(image == colour, axis=-1)), colour
  assert not np.any(np.all(image == plot_metrics.CURVES[2], axis=-1))  # Only two runs drawn.
  with pytest.raises(ValueError, match="1 labels for 2 metrics files"):
    plot_metrics.plot(paths, str(tmp_path / "x.png"), labels=["only one"])
