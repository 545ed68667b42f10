"""tools/make_gallery.py: the final grid and the training GIF of a tiny run."""

import os
import subprocess
import sys

import numpy as np
from PIL import Image
import pytest

from cgan_tf import train
from tests.helpers.data import REPO_ROOT

from tools import make_gallery

pytestmark = pytest.mark.slow


def test_gallery_of_a_tiny_run(smoke_config, tmp_path):
  config = smoke_config(train_steps=6, sample_every=2, checkpoint_every=6)
  train.train(config)
  final, animation = make_gallery.main([f"--run_dir={config.run_dir}", "--max_frames=3", "--scale=2"])
  assert os.path.dirname(final) == os.path.join(config.run_dir, "gallery")
  last = np.asarray(Image.open(os.path.join(config.run_dir, "samples", "grid_00000006.png")))
  np.testing.assert_array_equal(np.asarray(Image.open(final)), np.repeat(np.repeat(last, 2, 0), 2, 1))
  gif = Image.open(animation)
  # Frames of steps 0, 2, 4, 6; at most 3 kept, evenly spaced with both ends: 0, 2 or 4, 6.
  assert gif.n_frames == 3
  height, width = last.shape[:2]
  assert gif.size == (2 * width, 2 * (height + make_gallery.CAPTION_HEIGHT))
  gif.seek(2)
  frame = np.asarray(gif.convert("L"))
  np.testing.assert_array_equal(frame[:2 * height], np.repeat(np.repeat(last, 2, 0), 2, 1))
  assert frame[2 * height:].min() < 128  # The caption is drawn.
  assert gif.info["duration"] == 2000  # The last frame is held.


def test_a_directory_without_frames_is_refused_by_name(tmp_path):
  result = subprocess.run([sys.executable, os.path.join(REPO_ROOT, "tools", "make_gallery.py"),
                           f"--run_dir={tmp_path}"], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=REPO_ROOT))
  assert result.returncode == 2 and f"{tmp_path}/samples holds no grid_<step>.png frames" in result.stderr
