"""The demo's model side: which directory it loads, what it sends to which signature, and the messages for
bad input (cgan_tf/demo/model.py, cgan_tf/demo/model_card.py); the page itself is tests/e2e/test_demo.py."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from cgan_tf import validation
from cgan_tf import export
from cgan_tf import interpolation
from cgan_tf import networks
from cgan_tf import rng
from cgan_tf.config import Config, ConfigError
from cgan_tf.demo import model_card
from cgan_tf.demo.model import InputError, ServedGenerator, parse_truncation, resolve_version_dir
from tests.helpers.data import REPO_ROOT

PRETRAINED = os.path.join(REPO_ROOT, "pretrained", "fashion_mnist")
VERSION = os.path.join(PRETRAINED, "18740")


@pytest.fixture(scope="module")
def pretrained():
  return ServedGenerator(VERSION)


@pytest.fixture(scope="module")
def unconditional(tmp_path_factory):
  """An untrained unconditional generator on uniform noise, exported: count-taking signatures, straight paths."""
  config = Config(dataset="synthetic", image_shape=(8, 8, 1), unconditional=True, latent_dim=6, g_filters=8,
                  d_filters=8, noise="uniform", max_batch=5)
  generator, _ = networks.build_networks(config)
  path = str(tmp_path_factory.mktemp("unconditional") / "3")
  export.write_saved_model(generator, config, export.build_metadata(config, 3, "ckpt-3", "generator"), path)
  return ServedGenerator(path)


def test_export_dir_may_be_a_version_a_model_or_a_base_directory(tmp_path):
  assert resolve_version_dir(VERSION) == VERSION
  assert resolve_version_dir(PRETRAINED) == VERSION  # The highest version, as TF Serving serves.
  base = tmp_path / "models"
  shutil.copytree(VERSION, base / "fashion" / "7")
  shutil.copytree(VERSION, base / "fashion" / "12")
  (base / "fashion" / "99").mkdir()  # Not a SavedModel: passed over.
  assert resolve_version_dir(str(base)) == str(base / "fashion" / "12")
  shutil.copytree(VERSION, base / "other" / "1")
  assert resolve_version_dir(str(base), "other") == str(base / "other" / "1")
  with pytest.raises(ConfigError, match=r"--export_dir: .* holds several models \(fashion, other\)"):
    resolve_version_dir(str(base))


@pytest.mark.parametrize("make", ["missing", "empty", "not_a_model"])
def test_a_directory_without_a_model_is_refused_naming_it(tmp_path, make):
  path = tmp_path / "there"
  if make != "missing":
    path.mkdir()
  if make == "not_a_model":
    (path / "1").mkdir()
    (path / "1" / "saved_model.pb").write_bytes(b"not a SavedModel")
  with pytest.raises(ConfigError, match=f"--export_dir: {path}"):
    ServedGenerator(resolve_version_dir(str(path)))


@pytest.mark.slow
def test_the_command_exits_2_naming_a_directory_without_a_model(tmp_path):
  env = dict(os.environ, PYTHONPATH=os.pathsep.join([REPO_ROOT, os.environ.get("PYTHONPATH", "")]))
  result = subprocess.run([sys.executable, "-m", "cgan_tf.main", "--mode=demo", f"--export_dir={tmp_path}"],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
  assert result.returncode == 2, result.stderr
  assert f"error: --export_dir: {tmp_path} holds no model" in result.stderr
  assert "Traceback" not in result.stderr


@pytest.mark.parametrize("changes,flag", [
    (dict(export_dir=""), "export_dir"),
    (dict(export_dir="models", demo_port=70000), "demo_port"),
    (dict(export_dir="models", demo_port=-1), "demo_port"),
])
def test_demo_flags_are_validated(changes, flag):
  with pytest.raises(ConfigError, match=f"--{flag}"):
    validation.validate(Config(mode="demo", **changes))
  validation.validate(Config(mode="demo", export_dir="models", demo_port=0))  # No --run_dir needed.


@pytest.mark.parametrize("method,value,message", [
    ("parse_class", "12", r"class 12 is out of range: this model has 10 classes, 0 to 9"),
    ("parse_class", "-1", r"class -1 is out of range"),
    ("parse_class", "hat", r"class must be one of this model's 10 class names or an index in \[0, 10\)"),
    ("parse_seed", "3.5", r"seed must be a whole number, got '3.5'"),
    ("parse_seed", "three", r"seed must be a whole number"),
    ("parse_seed", "-2", r"seed must be between 0 and"),
    ("parse_seed", str(1 << 63), r"seed must be between 0 and 9223372036854775807"),
    ("parse_count", "1025", r"count must be between 1 and 1024 \(the export's max_batch\), got 1025"),
    ("parse_count", "0", r"count must be between 1 and 1024"),
])
def test_bad_input_gets_a_message(pretrained, method, value, message):
  with pytest.raises(InputError, match=message):
    getattr(pretrained, method)(value)


def test_a_class_is_named_by_index_name_or_the_listed_choice(pretrained):
  assert [pretrained.parse_class(value) for value in (8, "8", "Bag", "bag", " 8: Bag ", 8.0)] == [8] * 6
  assert pretrained.parse_seed(" 3 ") == 3 and pretrained.parse_count(4.0) == 4
  for value in ("-0.5", "nan", "inf", "x"):
    with pytest.raises(InputError, match="truncation"):
      parse_truncation(value)


def test_one_class_is_serving_seeded_with_seed_and_class(pretrained):
  images, pngs = pretrained.class_images(8, 4, 3)
  expected = pretrained.loaded.signatures[export.SERVING_SEEDED](label=tf.fill([4], 8),
                                                                 seed=tf.constant([3, 8], tf.int64))
  np.testing.assert_array_equal(images, expected["images"].numpy())
  assert pngs == list(expected["images_png_bytes"].numpy())


def test_truncation_sends_the_packages_truncated_noise_through_serving_latent(pretrained):
  sent = []
  latent = pretrained.latent

  def spy(label, noise):
    sent.append((label, noise))
    return latent(label, noise)

  pretrained.latent = spy
  try:
    truncated, _ = pretrained.class_images(8, 4, 3, truncation=0.5)
  finally:
    del pretrained.latent
  (label, noise), = sent
  assert label == 8
  np.testing.assert_array_equal(noise, rng.truncated_latent([4, 100], tf.constant([3, 8], tf.int64), "normal",
                                                            0.5).numpy())
  assert np.abs(noise).max() <= 0.5
  untruncated, _ = pretrained.class_images(8, 4, 3)
  assert not np.array_equal(truncated, untruncated)


def test_the_grid_row_k_is_class_k_for_the_seed(pretrained):
  grid, pngs = pretrained.class_grid(3, 5)
  assert grid.shape == (10, 3, 28, 28, 1) and len(pngs) == 10 and len(pngs[9]) == 3
  for label in (0, 9):
    np.testing.assert_array_equal(grid[label], pretrained.class_images(label, 3, 5)[0])


@pytest.mark.parametrize("truncation", [0.0, 0.8])
def test_interpolation_joins_the_first_noise_of_each_seed_on_the_sphere(pretrained, truncation):
  sent = []
  latent = pretrained.latent
  pretrained.latent = lambda label, noise: sent.append(noise) or latent(label, noise)
  try:
    frames, pngs = pretrained.interpolation(8, 3, 4, 6, truncation)
  finally:
    del pretrained.latent
  assert frames.shape == (6, 28, 28, 1) and len(pngs) == 6
  start = pretrained.seeded_noise(8, 1, 3, truncation)[0]
  end = pretrained.seeded_noise(8, 1, 4, truncation)[0]
  np.testing.assert_array_equal(sent[0], interpolation.path(start, end, 6, "normal"))
  np.testing.assert_array_equal(sent[0][[0, -1]], [start, end])


def test_an_unconditional_export_takes_counts_and_walks_straight(unconditional):
  assert not unconditional.conditional and unconditional.parse_class("anything") == -1
  images, pngs = unconditional.class_images(-1, 3, 5)
  expected = unconditional.loaded.signatures[export.SERVING_SEEDED](count=tf.constant(3),
                                                                    seed=tf.constant([5, 0], tf.int64))
  np.testing.assert_array_equal(images, expected["images"].numpy())
  assert unconditional.class_grid(2, 5)[0].shape == (1, 2, 8, 8, 1)
  frames, _ = unconditional.interpolation(-1, 1, 2, 4, truncation=0.5)
  assert frames.shape == (4, 8, 8, 1)
  with pytest.raises(InputError, match=r"count must be between 1 and 5 \(the export's max_batch\)"):
    unconditional.parse_count("6")


def test_a_request_the_model_refuses_becomes_a_message(pretrained):
  with pytest.raises(InputError,
                     match=r"the model refused the request: label values must be class indices in \[0, 10\); got 10$"):
    pretrained.class_images(10, 1, 0)  # Past parse_class, the export's own check answers.


def test_the_model_card_shows_the_metadata_and_the_reports_headline(pretrained):
  text = model_card.markdown(pretrained)
  assert "- **data set:** fashion_mnist" in text and "- **training step:** 18,740" in text
  assert "8 Bag" in text and "normal, 100 dimensions" in text and "- **max_batch:** 1024" in text
  with open(os.path.join(PRETRAINED, "eval_report.json")) as f:
    report = json.load(f)
  for name in report["headline"]:
    assert f"| {name} | {report['generated'][name]:.4g} | {report['real_train'][name]:.4g} |" in text


def test_the_model_card_says_when_there_is_no_report_or_it_measures_another_step(unconditional, tmp_path):
  assert "this export carries no evaluation report" in model_card.markdown(unconditional)
  with open(os.path.join(os.path.dirname(unconditional.version_dir), "eval_report.json"), "w") as f:
    json.dump(dict(step=99, generated=dict(frechet_distance=1.0), headline=["frechet_distance"]), f)
  text = model_card.markdown(unconditional)
  assert "measures step 99, not this export's step 3; its figures are not shown" in text
  assert "frechet_distance" not in text
