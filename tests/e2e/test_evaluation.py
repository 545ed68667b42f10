"""End-to-end tests of measuring: a tiny evaluator on the synthetic IDX set, the metrics on real images,
the training-time callback, and --mode=eval on a checkpoint and on its export."""

import glob
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from cgan_tf import data as data_lib
from cgan_tf import main
from cgan_tf import train
from cgan_tf.config import Config, ConfigError
from cgan_tf.evaluation import accuracy
from cgan_tf.evaluation import evaluator as evaluator_lib
from cgan_tf.evaluation import report
from cgan_tf import validation

from tests.helpers.data import make_idx_dataset
from tests.helpers.published import local_paths

pytestmark = pytest.mark.slow
NUM_CLASSES = 10


@pytest.fixture(scope="module")
def base_config(tmp_path_factory):
  """A tiny run that measures itself every 2 steps, on a synthetic set big enough for stable figures."""
  root = tmp_path_factory.mktemp("evaluation")
  data_dir = make_idx_dataset(str(root / "idx"), num_train=1000, num_test=1000)
  return validation.validate(Config(
      run_dir=str(root / "run"), dataset="synthetic", data_source="idx", data_dir=data_dir,
      batch_size=32, train_steps=4, checkpoint_every=2, sample_every=2, log_every=1, samples_per_class=3,
      verbose=0, seed=7, evaluator_dir=str(root / "evaluators"), evaluator_epochs=2, cas_epochs=3,
      eval_every=2, eval_samples=200, train_eval_samples=200, keep_best=True, precision="float32"))


@pytest.fixture(scope="module")
def trained_evaluator(base_config):
  return evaluator_lib.train_evaluator(base_config)


@pytest.fixture(scope="module")
def trained_run(base_config, trained_evaluator):
  del trained_evaluator  # Trained first, so the callback finds it in the cache.
  train.train(base_config)
  return base_config


def test_evaluator_is_cached_and_reloads_identically(base_config, trained_evaluator):
  directory = evaluator_lib.cache_dir(base_config)
  assert directory == os.path.join(base_config.evaluator_dir, "synthetic")
  with open(os.path.join(directory, evaluator_lib.INFO_FILE)) as f:
    info = json.load(f)
  assert info["test_accuracy"] == trained_evaluator.info["test_accuracy"] > 0.9
  assert info["num_train"] == 1000 and info["dataset"] == "synthetic"
  reloaded = evaluator_lib.load_evaluator(base_config)
  images = data_lib.load(base_config, "test").images[:64]
  features, predictions = reloaded.features_and_predictions(images)
  expected_features, expected_predictions = trained_evaluator.features_and_predictions(images)
  np.testing.assert_allclose(features, expected_features, rtol=1e-6, atol=1e-6)
  np.testing.assert_array_equal(predictions, expected_predictions)


def test_evaluator_of_other_data_with_the_same_name_is_refused(base_config, trained_evaluator, tmp_path):
  del trained_evaluator
  other = base_config.replace(data_dir=make_idx_dataset(str(tmp_path / "other"), num_train=500, seed=3))
  with pytest.raises(ConfigError, match="--evaluator_dir"):
    evaluator_lib.load_evaluator(other)


def test_conditional_accuracy_of_real_test_images(base_config, trained_evaluator):
  measurement = report.prepare(base_config.replace(eval_metrics="conditional_accuracy"))
  test = data_lib.load(base_config, "test")
  true_labels = measurement.measure_images(test.images, test.labels)["conditional_accuracy"]
  assert true_labels == pytest.approx(trained_evaluator.info["test_accuracy"], abs=0.01)
  shuffled = np.random.default_rng(0).permutation(test.labels)
  chance = measurement.measure_images(test.images, shuffled)["conditional_accuracy"]
  assert chance == pytest.approx(1 / NUM_CLASSES, abs=0.05)


def test_cas_is_high_for_real_images_and_chance_for_shuffled_labels(base_config):
  train_split, test = data_lib.load(base_config, "train"), data_lib.load(base_config, "test")
  images, labels = train_split.images[:300], train_split.labels[:300]
  real = accuracy.classification_accuracy_score(images, labels, test.images, test.labels, NUM_CLASSES,
                                                epochs=5, seed=0)
  shuffled = accuracy.classification_accuracy_score(
      images, np.random.default_rng(1).permutation(labels), test.images, test.labels, NUM_CLASSES,
      epochs=5, seed=0)
  assert real > 0.9
  assert shuffled < 0.3


def _metrics_lines(run_dir):
  with open(os.path.join(run_dir, "metrics.jsonl")) as f:
    return [json.loads(line) for line in f]


def test_training_measures_every_n_steps(trained_run):
  lines = _metrics_lines(trained_run.run_dir)
  assert [(line["source"], line["step"]) for line in lines] == [
      ("real_train", 2), ("generated", 2), ("generated", 4)]
  floor, generated = lines[0], lines[1:]
  # Four steps of training cannot get near real images: the floor must be far better.
  for line in generated:
    assert line["frechet_distance"] > 2 * floor["frechet_distance"]
    assert line["kid"] > floor["kid"]
    assert 0.0 <= line["conditional_accuracy"] <= 1.0
    assert {f"conditional_accuracy/class_{k}" for k in range(NUM_CLASSES)} <= set(line)
  assert floor["conditional_accuracy"] > 0.9 and floor["cas"] > 0.5

  tags = set()
  for path in glob.glob(os.path.join(trained_run.run_dir, "logs", "events.out.tfevents.*")):
    for event in tf.compat.v1.train.summary_iterator(path):
      tags.update(value.tag for value in event.summary.value)
  assert {"eval/frechet_distance", "eval/conditional_accuracy", "eval/cas", "eval/kid",
          "eval_real/frechet_distance"} <= tags


def test_keep_best_keeps_the_lowest_frechet_distance(trained_run):
  generated = [line for line in _metrics_lines(trained_run.run_dir) if line["source"] == "generated"]
  best_line = min(generated, key=lambda line: line["frechet_distance"])
  with open(os.path.join(trained_run.run_dir, "best", "best.json")) as f:
    best = json.load(f)
  assert best["step"] == best_line["step"]
  assert best["frechet_distance"] == pytest.approx(best_line["frechet_distance"])
  assert tf.train.latest_checkpoint(os.path.join(trained_run.run_dir, "best")).endswith(
      f"ckpt-{best['step']}")


def test_export_serves_the_best_generator_unless_told_otherwise(trained_run, tmp_path):
  from cgan_tf import export

  with open(os.path.join(trained_run.run_dir, "best", "best.json")) as f:
    best_step = json.load(f)["step"]
  exported = {}
  for source in ("auto", "best", "newest"):
    version_dir = export.export(trained_run.replace(mode="export", export_dir=str(tmp_path / source),
                                                    export_source=source))
    with open(os.path.join(version_dir, "assets", "metadata.json")) as f:
      exported[source] = json.load(f)
  assert exported["auto"]["training_step"] == exported["best"]["training_step"] == best_step
  assert "--keep_best" in exported["auto"]["weights"]
  assert exported["newest"]["training_step"] == 4 and "--keep_best" not in exported["newest"]["weights"]


def _eval(config, tmp_path, name, **changes):
  path = str(tmp_path / f"{name}.json")
  eval_config = validation.validate(config.replace(mode="eval", eval_report=path, **changes))
  main.run(eval_config)
  with open(path) as f:
    return json.load(f)


def test_eval_of_checkpoint_and_of_its_export_give_the_same_report(trained_run, tmp_path):
  from cgan_tf import export  # Imported here so the other tests still run if the export module breaks.

  checkpoint_report = _eval(trained_run, tmp_path, "checkpoint", eval_source="checkpoint")
  assert checkpoint_report["step"] == 4
  version_dir = export.export(trained_run.replace(mode="export", export_dir=str(tmp_path / "export"),
                                                  export_source="newest"))
  # The model directory (TF Serving's base path) resolves to its newest version.
  export_report = _eval(trained_run, tmp_path, "export", eval_source=os.path.dirname(version_dir))
  model_name, version = version_dir.split(os.sep)[-2:]
  assert export_report["source"] == f"savedmodel:{model_name}/{version}"
  assert checkpoint_report["source"] == "checkpoint:ckpt-4"
  # Published reports name no path of the machine that made them.
  assert local_paths(export_report, tmp_path) == local_paths(checkpoint_report, tmp_path) == []
  assert export_report["step"] == 4
  # The same host noise and the same uint8 quantization: identical pixels, so identical figures.
  assert export_report["generated"] == checkpoint_report["generated"]
  assert export_report["real_train"] == checkpoint_report["real_train"]
  # A SavedModel alone, with the data set from the flags and no run directory, measures the same.
  standalone = _eval(trained_run.replace(run_dir=""), tmp_path, "standalone", eval_source=version_dir)
  assert standalone["generated"] == checkpoint_report["generated"]

  # The figures of the final checkpoint are the ones the callback measured at that step.
  last = [line for line in _metrics_lines(trained_run.run_dir) if line["source"] == "generated"][-1]
  for name in ("conditional_accuracy", "frechet_distance", "kid", "cas"):
    assert checkpoint_report["generated"][name] == pytest.approx(last[name], rel=1e-5, abs=1e-6)


def test_eval_of_the_best_checkpoint(trained_run, tmp_path):
  best_report = _eval(trained_run, tmp_path, "best", eval_source="best")
  with open(os.path.join(trained_run.run_dir, "best", "best.json")) as f:
    best = json.load(f)
  assert best_report["step"] == best["step"]
  assert best_report["generated"]["frechet_distance"] == pytest.approx(best["frechet_distance"], rel=1e-5)


def test_eval_report_puts_precision_and_recall_beside_their_floor(trained_run, tmp_path, capsys):
  eval_report = _eval(trained_run, tmp_path, "precision_recall", eval_source="checkpoint")
  printed = capsys.readouterr().out.splitlines()
  for name in ("precision", "recall", "intra_precision", "intra_recall"):
    assert name in eval_report["headline"]
    generated, floor = eval_report["generated"][name], eval_report["real_train"][name]
    assert 0.0 <= generated <= 1.0 and 0.0 <= floor <= 1.0
    row = next(line.split() for line in printed if line.split()[:1] == [name])
    assert [float(figure) for figure in row[1:]] == pytest.approx([generated, floor], abs=1e-4)
  for figures in (eval_report["generated"], eval_report["real_train"]):
    assert {f"{name}/class_{k}" for name in ("precision", "recall") for k in range(NUM_CLASSES)} <= set(figures)
  # Real train images fill the test split's manifold; four steps of training cannot.
  assert eval_report["real_train"]["recall"] > eval_report["generated"]["recall"]


def test_eval_report_gives_the_unrecognised_share_overall_and_per_class_beside_its_floor(trained_run, tmp_path,
                                                                                         capsys):
  eval_report = _eval(trained_run, tmp_path, "unrecognised", eval_source="checkpoint",
                      eval_metrics="conditional_accuracy,unrecognised,frechet")
  printed = capsys.readouterr().out.splitlines()
  assert "unrecognised" in eval_report["headline"]
  generated, floor = eval_report["generated"], eval_report["real_train"]
  row = next(line.split() for line in printed if line.split()[:1] == ["unrecognised"])
  assert [float(figure) for figure in row[1:]] == pytest.approx([generated["unrecognised"], floor["unrecognised"]],
                                                                abs=1e-4)
  for figures in (generated, floor):
    per_class = [figures[f"unrecognised/class_{k}"] for k in range(NUM_CLASSES)]
    # Equal images per class: the overall share is the mean of the classes' shares.
    assert figures["unrecognised"] == pytest.approx(np.mean(per_class))
    # Every misclassified image is unrecognised, and so is a correctly classified one its evaluator gives
    # at most even odds.
    assert 1 - figures["conditional_accuracy"] - 1e-9 <= figures["unrecognised"] <= 1.0


def test_eval_with_truncation_measures_truncated_noise_beside_the_same_floor(trained_run, tmp_path):
  cheap = dict(eval_source="checkpoint", eval_metrics="frechet")
  free = _eval(trained_run, tmp_path, "free", **cheap)
  truncated = _eval(trained_run, tmp_path, "truncated", truncation=0.5, **cheap)
  assert free["truncation"] == 0.0 and truncated["truncation"] == 0.5
  assert truncated["real_train"] == free["real_train"]
  assert truncated["generated"]["frechet_distance"] != free["generated"]["frechet_distance"]
  # A bound no component exceeds redraws nothing: the same noise, the same figures.
  loose = _eval(trained_run, tmp_path, "loose", truncation=100.0, **cheap)
  assert loose["generated"] == free["generated"]


def test_eval_without_a_trained_run_names_the_flag(base_config, tmp_path):
  config = base_config.replace(mode="eval", run_dir=str(tmp_path / "empty"), eval_source="checkpoint")
  with pytest.raises(ConfigError, match="--run_dir"):
    main.run(config)
  with pytest.raises(ConfigError, match="--eval_source"):
    main.run(base_config.replace(mode="eval", eval_source=str(tmp_path / "no_model")))
