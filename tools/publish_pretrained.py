"""Publishes a trained run as the repository's pretrained model: export, 10,000-sample report, provenance.

  python tools/publish_pretrained.py --run_dir=runs/fmnist --commit=<sha> \
      --command="python -m cgan_tf.main --flagfile=configs/fmnist.cfg"

writes, under <output_dir>/<model_name>/ (default pretrained/fashion_mnist/, TF Serving's model base path):

  <version>/          the export (`--mode=export`: the generator --keep_best kept, else the newest)
  eval_report.json    `--mode=eval` of that export (--eval_samples, default 10,000) beside the real-data floor
  seeded_grid.png     serving_seeded's images, row k = class k with seed [SEED, k]: what the model must
                      still give wherever it is loaded (tests/e2e/test_pretrained.py checks it)
  provenance.json     the command and commit that trained it, the training step, the machine, the figures

A published model is replaced only by a better one: with a version already there, the tool refuses unless
--replace is given and the new export's Fréchet distance is lower than the published one's; the old
version is deleted only after the new one is complete. The directory holds one version, so the history
does not fill with weights.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import sys
import tempfile
from typing import Optional

if __package__ in (None, ""):  # Run as `python tools/<name>.py`: the repository root, for cgan_tf and tools.
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from cgan_tf import tf_logging  # pylint: disable=g-import-not-at-top

tf_logging.quiet_tensorflow([])  # TensorFlow's start-up banners, held back as the main program does.

import numpy as np  # pylint: disable=g-import-not-at-top
import tensorflow as tf  # pylint: disable=g-import-not-at-top

import cgan_tf  # pylint: disable=g-import-not-at-top
from cgan_tf import export  # pylint: disable=g-import-not-at-top
from cgan_tf import files  # pylint: disable=g-import-not-at-top
from cgan_tf import main as main_lib  # pylint: disable=g-import-not-at-top
from cgan_tf import run_dir  # pylint: disable=g-import-not-at-top
from cgan_tf import samples  # pylint: disable=g-import-not-at-top
from cgan_tf import validation  # pylint: disable=g-import-not-at-top
from cgan_tf.config import Config  # pylint: disable=g-import-not-at-top
from tools.benchmarks import common  # pylint: disable=g-import-not-at-top

REPORT_FILE = run_dir.EVAL_REPORT_FILE  # The same report as a run directory's, beside the model.
GRID_FILE = "seeded_grid.png"
PROVENANCE_FILE = "provenance.json"
GRID_SEED = 2026  # serving_seeded's seed [GRID_SEED, k] for row k of seeded_grid.png.
GRID_COLUMNS = 8


class PublishError(RuntimeError):
  """The run cannot be published: nothing to export, or not better than what is published."""


def seeded_grid(version_dir: str, columns: int = GRID_COLUMNS, seed: int = GRID_SEED) -> np.ndarray:
  """uint8 [classes, columns, H, W, C] from the export's serving_seeded: row k is class k, seed [seed, k]."""
  model = tf.saved_model.load(version_dir)
  num_classes = int(model.signatures["metadata"](unused=tf.constant(0))["num_classes"])
  rows = [model.signatures["serving_seeded"](label=tf.fill([columns], label),
                                             seed=tf.constant([seed, label], tf.int64))["images"].numpy()
          for label in range(num_classes)]
  return np.stack(rows)


def tiled(grid: np.ndarray) -> np.ndarray:
  rows, columns = grid.shape[:2]
  return samples.tile(grid.reshape((rows * columns,) + grid.shape[2:]), rows, columns)


def publish(run_dir: str, command: str, commit: str, output_dir: str = "pretrained",
            model_name: str = "fashion_mnist", eval_samples: int = 10000, replace: bool = False,
            note: str = "", eval_metrics: str = "") -> str:
  """Publishes the run; returns the model directory. See the module docstring.

  `eval_metrics` (comma-separated) narrows the report; the default measures every metric. The Fréchet
  distance decides a replacement, so it is always measured.
  """
  model_dir = os.path.join(output_dir, model_name)
  published = export.existing_versions(model_dir) if os.path.isdir(model_dir) else []
  if published and not replace:
    raise PublishError(f"{model_dir} already holds version {published[-1]}; pass --replace to publish a run "
                       f"whose Fréchet distance is lower")
  os.makedirs(model_dir, exist_ok=True)
  staging = tempfile.mkdtemp(prefix=".publish-", dir=model_dir)
  try:
    version_dir = main_lib.run(validation.validate(Config(mode="export", run_dir=run_dir,
                                                          export_dir=staging, model_name="m")))
    report_path = os.path.join(staging, REPORT_FILE)
    names = list(dict.fromkeys(["frechet"] + eval_metrics.split(","))) if eval_metrics else []
    metrics = dict(eval_metrics=",".join(names)) if names else {}
    main_lib.run(validation.validate(Config(
        mode="eval", run_dir=run_dir, eval_source=version_dir, eval_samples=eval_samples,
        eval_report=report_path, **metrics)))
    with open(report_path) as f:
      report = json.load(f)
    version = os.path.basename(version_dir)
    report["source"] = f"savedmodel:{model_name}/{version}"  # Where it is published, not the staging copy.
    files.write_json_atomically(report_path, report, indent=2)
    distance = report["generated"]["frechet_distance"]
    if published:
      with open(os.path.join(model_dir, REPORT_FILE)) as f:
        old_distance = json.load(f)["generated"]["frechet_distance"]
      if distance >= old_distance:
        raise PublishError(f"the run's Fréchet distance {distance:.3f} is not lower than the published "
                           f"{old_distance:.3f}; {model_dir} is unchanged")
    with open(os.path.join(version_dir, "assets", "metadata.json")) as f:
      metadata = json.load(f)
    samples.write_png(tiled(seeded_grid(version_dir)), os.path.join(staging, GRID_FILE))
    provenance = dict(
        command=command, commit=commit, note=note, cgan_tf_version=cgan_tf.__version__,
        tensorflow_version=tf.__version__, training_step=metadata["training_step"],
        weights=metadata.get("weights"), machine=common.machine(), python=platform.python_version(),
        published=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        eval_samples=eval_samples, seeded_grid=dict(seed=GRID_SEED, columns=GRID_COLUMNS),
        figures=report["generated"], real_floor=report.get("real_train"))
    files.write_json_atomically(os.path.join(staging, PROVENANCE_FILE), provenance, indent=2)
    # Complete: move the version, then the files that describe it, and only then drop the old version.
    if version.isdigit() and int(version) in published:
      raise PublishError(f"{model_dir}/{version} exists; it was left untouched")
    os.rename(version_dir, os.path.join(model_dir, version))
    for name in (REPORT_FILE, GRID_FILE, PROVENANCE_FILE):
      os.replace(os.path.join(staging, name), os.path.join(model_dir, name))
    for old in published:
      shutil.rmtree(os.path.join(model_dir, str(old)))
  finally:
    shutil.rmtree(staging, ignore_errors=True)
  return model_dir


def main(argv: Optional[list] = None) -> str:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--run_dir", required=True, help="the trained run")
  parser.add_argument("--command", required=True, help="the exact command that trained it")
  parser.add_argument("--commit", required=True, help="the commit of cgan_tf that trained it")
  parser.add_argument("--note", default="", help="anything else a reader must know about how it was trained")
  parser.add_argument("--output_dir", default="pretrained")
  parser.add_argument("--model_name", default="fashion_mnist")
  parser.add_argument("--eval_samples", type=int, default=10000)
  parser.add_argument("--replace", action="store_true",
                      help="replace the published version if this run's Fréchet distance is lower")
  args = parser.parse_args(argv)
  try:
    model_dir = publish(args.run_dir, args.command, args.commit, args.output_dir, args.model_name,
                        args.eval_samples, args.replace, args.note)
  except PublishError as e:
    sys.exit(f"publish_pretrained: {e}")
  print(f"Published {args.run_dir} to {model_dir}")
  return model_dir


if __name__ == "__main__":
  main()
