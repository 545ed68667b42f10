"""--mode=sample: interpolations (PNGs, a strip, a GIF) and truncation, for each noise distribution and
for one class, every class and an unconditional generator."""

import os

import numpy as np
from PIL import Image
import pytest

from cgan_tf import generate
from cgan_tf import train
from cgan_tf.config import Config, ConfigError
from cgan_tf import validation
from tests.helpers.runs import QUIET

pytestmark = pytest.mark.slow

STEPS = 5


@pytest.fixture(scope="module", params=[("normal", False), ("uniform", False), ("normal", True)],
                ids=["normal", "uniform", "unconditional"])
def trained_run(request, tmp_path_factory):
  from tests.helpers.data import make_idx_dataset
  noise, unconditional = request.param
  base = tmp_path_factory.mktemp(f"generate_{noise}")
  config = Config(run_dir=str(base / "run"), dataset="synthetic", data_source="idx",
                  data_dir=make_idx_dataset(str(base / "idx")), batch_size=32, train_steps=2,
                  checkpoint_every=2, sample_every=2, log_every=1, samples_per_class=3, verbose=0, seed=7,
                  noise=noise, unconditional=unconditional, **QUIET)
  train.train(config)
  return config


def sample_config(run, tmp_path, **changes):
  return validation.validate(Config(mode="sample", run_dir=run.run_dir, output_dir=str(tmp_path),
                                         **changes))


@pytest.mark.parametrize("label", [3, -1])
@pytest.mark.parametrize("truncation", [0.0, 0.7])
def test_interpolation_writes_each_point_a_strip_and_a_gif(trained_run, tmp_path, label, truncation):
  if trained_run.unconditional and label >= 0:
    with pytest.raises(ConfigError, match="--label: this run is unconditional"):
      generate.sample(sample_config(trained_run, tmp_path, label=label, interpolate=STEPS))
    return
  paths = generate.sample(sample_config(trained_run, tmp_path, label=label, interpolate=STEPS,
                                        truncation=truncation))
  rows = 1 if label >= 0 or trained_run.unconditional else 10
  prefix = ("interpolation" if trained_run.unconditional else
            f"class{label}_interpolation" if label >= 0 else "classes_interpolation")
  assert [os.path.basename(p) for p in paths] == (
      [f"{prefix}_{i:04d}.png" for i in range(STEPS)] + [f"{prefix}.png", f"{prefix}.gif"])
  frames = [np.asarray(Image.open(p)) for p in paths[:STEPS]]
  assert frames[0].shape == (30 + 2, rows * 30 + 2)
  assert not np.array_equal(frames[0], frames[-1])
  strip = Image.open(paths[STEPS])
  assert strip.size == (STEPS * 30 + 2, rows * 30 + 2)
  gif = Image.open(paths[-1])
  assert gif.is_animated and gif.n_frames == 2 * STEPS - 2  # There and back, the ends once each.
  gif.seek(STEPS - 1)
  np.testing.assert_array_equal(np.asarray(gif.convert("L")), frames[-1])


def test_truncation_changes_the_samples_and_the_same_seed_repeats_them(trained_run, tmp_path):
  def draw(directory, truncation):
    paths = generate.sample(sample_config(trained_run, tmp_path / directory, label=-1 if trained_run.unconditional
                                          else 2, num_images=4, truncation=truncation))
    return [np.asarray(Image.open(p)) for p in paths]

  plain, truncated, again = draw("plain", 0.0), draw("truncated", 0.5), draw("again", 0.5)
  assert not np.array_equal(plain[0], truncated[0])
  np.testing.assert_array_equal(truncated[0], again[0])


@pytest.mark.parametrize("changes, flag", [(dict(interpolate=1), "interpolate"),
                                           (dict(interpolate=-2), "interpolate"),
                                           (dict(truncation=-0.5), "truncation"),
                                           (dict(truncation=float("nan")), "truncation"),
                                           (dict(progress_seconds=-1.0), "progress_seconds")])
def test_bad_values_name_the_flag(tmp_path, changes, flag):
  with pytest.raises(ConfigError, match=f"--{flag}: "):
    validation.validate(Config(mode="sample", run_dir=str(tmp_path), output_dir=str(tmp_path), **changes))
