"""The checked-in pretrained model serves without cgan_tf and still gives its published images; the tool that
publishes it (tools/publish_pretrained.py) replaces it only with a better one and never half-way."""

import glob
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
from PIL import Image
import pytest

from cgan_tf import train
from cgan_tf.config import Config
from tests.helpers.data import REPO_ROOT, make_idx_dataset
from tests.helpers.published import local_paths
from tests.helpers.runs import QUIET
from tools import publish_pretrained

PRETRAINED = os.path.join(REPO_ROOT, "pretrained", "fashion_mnist")

# Runs in a fresh interpreter that never imports cgan_tf: what a user without the package does.
FRESH_PROCESS = textwrap.dedent("""
    import json, sys
    import numpy as np
    import tensorflow as tf
    from PIL import Image

    version_dir, grid_png, out = sys.argv[1], sys.argv[2], sys.argv[5]
    seed, columns = int(sys.argv[3]), int(sys.argv[4])
    model = tf.saved_model.load(version_dir)
    meta = model.signatures["metadata"](unused=tf.constant(0))
    classes = int(meta["num_classes"])
    labels = tf.constant(np.repeat(np.arange(classes), 2), tf.int32)
    fresh = model.signatures["serving_default"](label=labels)
    rows = [model.signatures["serving_seeded"](label=tf.fill([columns], k),
                                               seed=tf.constant([seed, k], tf.int64))["images"].numpy()
            for k in range(classes)]
    np.savez(out, fresh=fresh["images"].numpy(), pngs=np.array([p[:8] for p in fresh["images_png_bytes"].numpy()]),
             seeded=np.stack(rows), published=np.asarray(Image.open(grid_png)),
             step=int(meta["training_step"]), classes=classes,
             class_names=meta["class_names"].numpy().astype(str),
             cgan_tf_loaded=any(name.startswith("cgan_tf") for name in sys.modules))
""")


def read_png(path: str) -> np.ndarray:
  image = np.asarray(Image.open(path))
  return image[..., None] if image.ndim == 2 else image


def published_version() -> str:
  found = [path for path in glob.glob(os.path.join(PRETRAINED, "*")) if os.path.basename(path).isdigit()]
  assert len(found) == 1, f"pretrained/fashion_mnist must hold exactly one version, found {found}"
  return found[0]


def test_the_pretrained_model_serves_every_class_without_cgan_tf_and_gives_its_published_grid(tmp_path):
  version_dir = published_version()
  with open(os.path.join(PRETRAINED, publish_pretrained.PROVENANCE_FILE)) as f:
    provenance = json.load(f)
  with open(os.path.join(PRETRAINED, publish_pretrained.REPORT_FILE)) as f:
    report = json.load(f)
  script = tmp_path / "fresh.py"
  script.write_text(FRESH_PROCESS)
  grid = provenance["seeded_grid"]
  subprocess.run([sys.executable, str(script), version_dir, os.path.join(PRETRAINED, publish_pretrained.GRID_FILE),
                  str(grid["seed"]), str(grid["columns"]), str(tmp_path / "out.npz")], check=True,
                 cwd=str(tmp_path), env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
  out = np.load(tmp_path / "out.npz")
  assert not out["cgan_tf_loaded"]
  assert int(out["classes"]) == 10 and "Ankle boot" in list(out["class_names"])
  assert out["fresh"].shape == (20, 28, 28, 1) and out["fresh"].dtype == np.uint8
  assert list(out["pngs"]) == [b"\x89PNG\r\n\x1a\n"] * 20
  # Every class gets images of its own: no two classes' fresh pairs are alike, and none is blank.
  per_class = out["fresh"].reshape(10, 2, -1).astype(np.float64)
  assert min(image.std() for image in per_class.reshape(20, -1)) > 10
  class_means = per_class.mean(axis=1)
  assert min(np.abs(class_means[a] - class_means[b]).mean() for a in range(10) for b in range(a)) > 5
  # The same images as published, to one grey level (another CPU's convolutions may round differently).
  published = out["published"].reshape(out["published"].shape[:2] + (-1,))  # A grey PNG reads as [H, W].
  expected = publish_pretrained.tiled(out["seeded"])
  assert published.shape == expected.shape
  assert np.abs(published.astype(int) - expected.astype(int)).max() <= 1
  # One story: the version, the report and the provenance name the same training step and a commit.
  assert int(os.path.basename(version_dir)) == int(out["step"]) == report["step"] == provenance["training_step"]
  assert report["eval_samples"] == 10000 and report["source"] == f"savedmodel:fashion_mnist/{out['step']}"
  assert provenance["command"].startswith("python -m cgan_tf.main") and len(provenance["commit"]) >= 7


@pytest.mark.slow
def test_publishing_refuses_to_replace_a_model_with_one_that_is_not_better(tmp_path):
  base = tmp_path
  config = Config(run_dir=str(base / "run"), dataset="synthetic", data_source="idx",
                  data_dir=make_idx_dataset(str(base / "idx")), batch_size=32, train_steps=4, checkpoint_every=2,
                  sample_every=4, log_every=2, samples_per_class=2, verbose=0, seed=3,
                  evaluator_dir=str(base / "evaluators"), evaluator_epochs=1, cas_epochs=1, ema_decay=0.9, **QUIET)
  train.train(config)
  output = str(base / "pretrained")
  model_dir = publish_pretrained.publish(config.run_dir, "python -m cgan_tf.main --x", "abc1234", output, "m",
                                         eval_samples=200, eval_metrics="conditional_accuracy")
  assert sorted(os.listdir(model_dir)) == ["4", "eval_report.json", "provenance.json", "seeded_grid.png"]
  snapshot = {name: open(os.path.join(model_dir, name), "rb").read()
              for name in ("eval_report.json", "provenance.json", "seeded_grid.png")}
  seeded = publish_pretrained.seeded_grid(os.path.join(model_dir, "4"))
  np.testing.assert_array_equal(read_png(os.path.join(model_dir, "seeded_grid.png")),
                                publish_pretrained.tiled(seeded))
  with pytest.raises(publish_pretrained.PublishError, match="already holds version 4; pass --replace"):
    publish_pretrained.publish(config.run_dir, "c", "d", output, "m", eval_samples=200)
  # The same run again has the same distance: not lower, so nothing changes.
  with pytest.raises(publish_pretrained.PublishError, match="is not lower than the published"):
    publish_pretrained.publish(config.run_dir, "c", "d", output, "m", eval_samples=200, replace=True,
                               eval_metrics="conditional_accuracy")
  assert sorted(os.listdir(model_dir)) == ["4", "eval_report.json", "provenance.json", "seeded_grid.png"]
  assert all(open(os.path.join(model_dir, name), "rb").read() == content for name, content in snapshot.items())


def test_the_published_files_name_no_path_of_the_machine_that_made_them():
  version_dir = published_version()
  documents = {name: json.load(open(os.path.join(PRETRAINED, name)))
               for name in (publish_pretrained.REPORT_FILE, publish_pretrained.PROVENANCE_FILE)}
  documents["metadata.json"] = json.load(open(os.path.join(version_dir, "assets", "metadata.json")))
  for name, document in documents.items():
    assert local_paths(document, REPO_ROOT) == [], name
  # The metadata signature carries the same description, compiled into the graph.
  with open(os.path.join(version_dir, "saved_model.pb"), "rb") as f:
    graph = f.read()
  for needle in (os.path.expanduser("~").encode(), b"/tmp/", REPO_ROOT.encode()):
    assert needle not in graph, needle
