"""Your own images: folder and npz sources, bad input, inspect_data, tiny training, sampling and export.

Every data set is built here with Pillow or NumPy: a class-per-folder set of coloured 32x32 shapes (PNG,
JPEG, BMP and GIF files) and a gray 28x28 npz.
"""

import dataclasses
import json
import logging
import os

import numpy as np
from PIL import Image, ImageDraw
import pytest
import tensorflow as tf

from cgan_tf import data
from cgan_tf import main as main_lib
from cgan_tf import networks
from cgan_tf import rng
from cgan_tf import trained_run as trained_run_lib
from cgan_tf import samples
from cgan_tf import train
from cgan_tf.config import Config, ConfigError
from cgan_tf.data import DataError
from cgan_tf.data import inspection
from cgan_tf.data import own_images
from cgan_tf import validation
from cgan_tf.run_dir import RunDir
from tests.helpers.presets import parse_command, parse_preset
from tests.helpers.runs import QUIET

# Class name -> fill colour; the folder names are deliberately not in sorted order of creation.
SHAPE_CLASSES = {"square": (220, 30, 30), "circle": (30, 200, 30), "triangle": (40, 40, 230)}
PER_CLASS = 10
FORMATS = ("png", "jpg", "bmp", "gif")


def draw_shape(kind: str, colour, size=(32, 32), background=(16, 16, 16)) -> Image.Image:
  width, height = size
  image = Image.new("RGB", size, background)
  draw = ImageDraw.Draw(image)
  box = [width // 4, height // 4, 3 * width // 4, 3 * height // 4]
  if kind == "square":
    draw.rectangle(box, fill=colour)
  elif kind == "circle":
    draw.ellipse(box, fill=colour)
  else:
    draw.polygon([(box[0], box[3]), (box[2], box[3]), ((box[0] + box[2]) // 2, box[1])], fill=colour)
  return image


def make_shapes_folder(root, per_class=PER_CLASS, formats=FORMATS) -> str:
  """root/<class>/<i>.<format>: 32x32 coloured shapes, one class per subdirectory."""
  for kind, colour in SHAPE_CLASSES.items():
    os.makedirs(os.path.join(root, kind), exist_ok=True)
    for i in range(per_class):
      draw_shape(kind, colour).save(os.path.join(root, kind, f"{i:03d}.{formats[i % len(formats)]}"))
  return str(root)


def make_gray_npz(path, count=48, num_classes=3, size=28, class_names=True, seed=0) -> str:
  """A gray 28x28 npz whose class k is a bright bar in row band k."""
  rng = np.random.default_rng(seed)
  labels = np.arange(count) % num_classes
  images = rng.integers(0, 30, size=(count, size, size), dtype=np.uint8)
  for i, label in enumerate(labels):
    images[i, 4 + 8 * label:8 + 8 * label, 4:24] = 250
  arrays = dict(images=images, labels=labels.astype(np.int64))
  if class_names:
    arrays["class_names"] = np.array([f"bar{k}" for k in range(num_classes)])
  np.savez(path, **arrays)
  return str(path)


@pytest.fixture
def shapes_dir(tmp_path):
  return make_shapes_folder(tmp_path / "shapes")


# A configuration's fields that say which data it reads, where it writes and how long it runs, not how it
# trains: a folder run given only its data takes every other field from the recommended recipe.
DATA_AND_LENGTH = ("run_dir", "dataset", "data_source", "data_dir", "image_size", "image_shape", "num_classes",
                   "class_names", "epochs")


def test_a_folder_run_trains_the_recommended_recipe_sized_to_its_images(tmp_path):
  # Enough images for one batch of the recipe's 64 after the held-out tenth.
  shapes_dir = make_shapes_folder(tmp_path / "shapes", per_class=30)
  # The command docs/own_data.md gives, and the recommended preset as measured (configs/fmnist.cfg).
  folder = parse_command("--data_source=folder", f"--data_dir={shapes_dir}", "--dataset=shapes",
                         "--image_size=32", f"--run_dir={tmp_path / 'run'}")
  recommended = parse_preset("configs/fmnist.cfg", f"--run_dir={tmp_path / 'fmnist'}")
  resolved, data = train.resolve_training_config(folder)
  recipe = [field.name for field in dataclasses.fields(Config) if field.name not in DATA_AND_LENGTH]
  assert {name: getattr(resolved, name) for name in recipe} == {name: getattr(recommended, name) for name in recipe}
  assert (resolved.network, resolved.d_conditioning, resolved.keep_best) == ("cdcgan", "projection", True)
  assert resolved.ema_decay > 0 and resolved.eval_every > 0
  # Sized to the data: networks for 32x32 RGB, and the recipe's length in images, not in passes over 36.
  assert resolved.image_shape == (32, 32, 3) and resolved.num_classes == len(SHAPE_CLASSES)
  generator, _ = networks.build_networks(resolved.replace(precision="float32"))
  assert generator.output.shape[1:] == (32, 32, 3)
  steps = train.total_steps(resolved, len(data.labels))
  assert steps * resolved.batch_size >= resolved.train_images > (steps - 1) * resolved.batch_size


@pytest.fixture
def gray_npz(tmp_path):
  return make_gray_npz(tmp_path / "bars.npz")


def folder_config(root, **overrides) -> Config:
  values = dict(run_dir="/unused", dataset="mine", data_source="folder", data_dir=root, image_size=32, seed=3,
                **QUIET)
  values.update(overrides)
  return validation.validate(Config(**values))


def npz_config(path, **overrides) -> Config:
  return folder_config(path, **{"data_source": "npz", "image_size": 0, **overrides})


# --- The folder source ---------------------------------------------------------------------------


def test_folder_classes_come_from_sorted_subdirectories(shapes_dir):
  whole = data.load(folder_config(shapes_dir), "all")
  assert whole.class_names == ("circle", "square", "triangle")
  assert whole.images.shape == (3 * PER_CLASS, 32, 32, 3) and whole.images.dtype == np.uint8
  assert whole.labels.dtype == np.int32
  assert np.bincount(whole.labels).tolist() == [PER_CLASS] * 3
  # Files are read in sorted order within a class: the first square is square/000.png, decoded exactly.
  first_square = whole.images[np.flatnonzero(whole.labels == 1)[0]]
  np.testing.assert_array_equal(first_square, np.asarray(draw_shape("square", SHAPE_CLASSES["square"])))
  # Every format decodes to its class's colour in the middle of the image (JPEG within its loss).
  for label, kind in enumerate(whole.class_names):
    centres = whole.images[whole.labels == label][:, 16, 16].astype(int)
    assert np.abs(centres - np.array(SHAPE_CLASSES[kind])).max() <= 24, kind


def test_holdout_split_is_stratified_disjoint_and_seeded(shapes_dir):
  config = folder_config(shapes_dir, holdout_fraction=0.2)
  train, test = data.load(config, "train"), data.load(config, "test")
  assert np.bincount(train.labels).tolist() == [8, 8, 8]
  assert np.bincount(test.labels).tolist() == [2, 2, 2]
  assert train.class_names == test.class_names == ("circle", "square", "triangle")
  labels = np.arange(60) % 3
  a_train, a_test = own_images.holdout_split(labels, 3, 0.2, seed=3)
  b_train, b_test = own_images.holdout_split(labels, 3, 0.2, seed=3)
  _, c_test = own_images.holdout_split(labels, 3, 0.2, seed=4)
  np.testing.assert_array_equal(a_test, b_test)
  assert not np.array_equal(a_test, c_test)
  assert sorted(np.concatenate([a_train, a_test]).tolist()) == list(range(60))
  # A class of one image stays in training; a tiny class still gives one test image.
  tiny = np.array([0, 1, 1, 1])
  train_idx, test_idx = own_images.holdout_split(tiny, 2, 0.1, seed=0)
  assert train_idx[0] == 0 and len(test_idx) == 1 and tiny[test_idx[0]] == 1


def test_zero_holdout_has_no_test_split(shapes_dir):
  config = folder_config(shapes_dir, holdout_fraction=0.0)
  assert len(data.load(config, "train").labels) == 3 * PER_CLASS
  with pytest.raises(DataError, match="--holdout_fraction"):
    data.load(config, "test")


def test_mixed_sizes_are_resized_by_the_chosen_mode(tmp_path):
  root = make_shapes_folder(tmp_path / "mixed", per_class=2, formats=("png",))
  # A wide image: 64x32 with a white left and right quarter, so crop and pad differ visibly.
  wide = Image.new("RGB", (64, 32), (255, 255, 255))
  ImageDraw.Draw(wide).rectangle([16, 0, 47, 31], fill=(220, 30, 30))
  wide.save(os.path.join(root, "square", "wide.png"))
  draw_shape("circle", SHAPE_CLASSES["circle"], size=(48, 48)).save(os.path.join(root, "circle", "big.png"))
  results = {}
  for mode in own_images.RESIZE_MODES:
    decoded = own_images.decode(folder_config(root, resize_mode=mode))
    assert decoded.images.shape == (8, 32, 32, 3)
    assert sorted(own_images.size_summary(decoded.original_sizes)) == [("32x32", 6), ("32x64", 1),
                                                                           ("48x48", 1)]
    results[mode] = decoded.images[decoded.paths.index(os.path.join(root, "square", "wide.png"))]
  # crop keeps the centre (all red); pad adds black bands above and below; stretch keeps the white sides.
  red, white, black = [220, 30, 30], [255, 255, 255], [0, 0, 0]
  assert results["crop"][16, 1].tolist() == red and results["crop"][16, 30].tolist() == red
  assert results["pad"][0, 16].tolist() == black and results["pad"][16, 0].tolist() == white
  assert results["stretch"][0, 16].tolist() == red and results["stretch"][16, 0].tolist() == white
  # Images already at the target size are not resampled.
  decoded = own_images.decode(folder_config(root))
  first = decoded.images[decoded.paths.index(os.path.join(root, "circle", "000.png"))]
  np.testing.assert_array_equal(first, np.asarray(draw_shape("circle", SHAPE_CLASSES["circle"])))


def test_image_size_zero_takes_the_first_images_size(tmp_path):
  root = make_shapes_folder(tmp_path / "native", per_class=2, formats=("png",))
  draw_shape("square", (1, 2, 3), size=(40, 40)).save(os.path.join(root, "square", "zz_large.png"))
  assert data.load(folder_config(root, image_size=0), "all").image_shape == (32, 32, 3)


def test_channels_convert_either_way(shapes_dir, tmp_path):
  gray = data.load(folder_config(shapes_dir, channels=1), "all")
  colour = data.load(folder_config(shapes_dir, channels=3), "all")
  assert gray.image_shape == (32, 32, 1) and colour.image_shape == (32, 32, 3)
  luminance = colour.images.astype(np.float64) @ np.array([0.2989, 0.5870, 0.1140])
  assert np.abs(gray.images[..., 0] - luminance).max() <= 1.0
  # channels=0: a folder of gray files becomes one channel, a colour folder stays three.
  gray_root = tmp_path / "gray"
  os.makedirs(gray_root / "a")
  os.makedirs(gray_root / "b")
  for i in range(3):
    Image.fromarray(np.full((32, 32), 10 * i, np.uint8), "L").save(gray_root / "a" / f"{i}.png")
    Image.fromarray(np.full((32, 32), 200 + i, np.uint8), "L").save(gray_root / "b" / f"{i}.jpg")
  assert data.load(folder_config(str(gray_root)), "all").image_shape == (32, 32, 1)
  assert data.load(folder_config(shapes_dir), "all").image_shape == (32, 32, 3)
  assert data.load(folder_config(str(gray_root), channels=3), "all").image_shape == (32, 32, 3)


# --- The npz source ------------------------------------------------------------------------------


def test_npz_keeps_its_size_and_resizes_or_converts_on_request(gray_npz):
  whole = data.load(npz_config(gray_npz), "all")
  assert whole.image_shape == (28, 28, 1) and whole.class_names == ("bar0", "bar1", "bar2")
  raw = np.load(gray_npz)
  np.testing.assert_array_equal(whole.images[..., 0], raw["images"])
  np.testing.assert_array_equal(whole.labels, raw["labels"])
  resized = data.load(npz_config(gray_npz, image_size=32, channels=3), "all")
  assert resized.image_shape == (32, 32, 3)
  np.testing.assert_array_equal(resized.images[..., 0], resized.images[..., 2])  # Gray replicated.
  train, test = data.load(npz_config(gray_npz), "train"), data.load(npz_config(gray_npz), "test")
  assert len(train.labels) + len(test.labels) == 48 and np.bincount(test.labels).tolist() == [2, 2, 2]


def test_npz_without_class_names_numbers_the_classes(tmp_path):
  path = make_gray_npz(tmp_path / "plain.npz", class_names=False, num_classes=4)
  assert data.load(npz_config(path), "all").class_names == ("0", "1", "2", "3")


def _write_npz(path, **arrays):
  np.savez(path, **arrays)
  return str(path)


@pytest.mark.parametrize("arrays,message", [
    (dict(images=np.zeros((4, 28, 28), np.uint8), labels=np.array([0, 1, 2, 5]),
          class_names=np.array(["a", "b", "c"])), r"label 5 at index 3 is out of range \[0, 3\)"),
    (dict(images=np.zeros((4, 28, 28), np.uint8), labels=np.array([0, 1, -1, 1])),
     r"label -1 at index 2 is out of range"),
    (dict(images=np.zeros((4, 28, 28), np.uint8), labels=np.array([0, 1, 1])),
     "holds 4 images but 3 labels"),
    (dict(images=np.zeros((4, 28, 28), np.float32), labels=np.array([0, 1, 1, 0])), "must be uint8"),
    (dict(pictures=np.zeros((4, 28, 28), np.uint8), labels=np.array([0, 1, 1, 0])), "missing array"),
    (dict(images=np.zeros((4, 28, 28, 2), np.uint8), labels=np.array([0, 1, 1, 0])), "C 1, 3 or 4"),
])
def test_bad_npz_is_rejected_naming_the_file(tmp_path, arrays, message):
  path = _write_npz(tmp_path / "bad.npz", **arrays)
  with pytest.raises(DataError, match=message) as error:
    data.load(npz_config(path), "train")
  assert path in str(error.value)


def test_missing_or_unreadable_npz(tmp_path):
  with pytest.raises(DataError, match="--data_dir: .*is not a file"):
    data.load(npz_config(str(tmp_path / "nope.npz")))
  (tmp_path / "junk.npz").write_bytes(b"not a zip")
  with pytest.raises(DataError, match="not a readable .npz"):
    data.load(npz_config(str(tmp_path / "junk.npz")))


@pytest.mark.parametrize("labels,message", [
    # One corrupt value would otherwise make a class (and its name) for every number up to it.
    (np.array([0, 1, 1_000_000_000, 1]), r"label 1000000000 at index 2 would make 1000000001 classes, and a data "
                                         r"set may have at most 10000; labels must be the class indices 0\.\.K-1"),
    (np.arange(0, 1000, 100), r"its 10 distinct label values run from 0 to 900, so 891 of the classes 0\.\.900 "
                              r"would have no image \(1, 2, 3, .*renumber the labels 0\.\.9, or add a "
                              r"'class_names' array naming all 901 classes"),
    (np.array([0, 2, 2, 0]), r"so 1 of the classes 0\.\.2 would have no image \(1\)"),
])
def test_huge_or_sparse_labels_without_class_names_are_refused_naming_them(tmp_path, labels, message):
  path = _write_npz(tmp_path / "labels.npz", images=np.zeros((len(labels), 8, 8), np.uint8), labels=labels)
  with pytest.raises(DataError, match=message) as error:
    data.load(npz_config(path), "all")
  assert str(error.value).startswith(path)


def test_declared_classes_may_be_empty_but_not_too_many(tmp_path, caplog):
  images = np.zeros((4, 8, 8), np.uint8)
  path = _write_npz(tmp_path / "named.npz", images=images, labels=np.array([0, 2, 2, 0]),
                    class_names=np.array(["a", "b", "c"]))
  with caplog.at_level(logging.WARNING):
    assert data.load(npz_config(path), "all").class_names == ("a", "b", "c")
  assert "class(es) b have no images" in caplog.text
  path = _write_npz(tmp_path / "many.npz", images=images, labels=np.array([0, 1, 1, 0]),
                    class_names=np.array([str(k) for k in range(own_images.MAX_CLASSES + 1)]))
  with pytest.raises(DataError, match=r"'class_names' names 10001 classes; a data set may have at most 10000"):
    data.load(npz_config(path), "all")


# --- Bad folders ---------------------------------------------------------------------------------


def test_empty_or_missing_folder(tmp_path):
  with pytest.raises(DataError, match="--data_dir: .*is not a directory"):
    data.load(folder_config(str(tmp_path / "missing")))
  os.makedirs(tmp_path / "empty")
  with pytest.raises(DataError, match="holds no images"):
    data.load(folder_config(str(tmp_path / "empty")))
  make_shapes_folder(tmp_path / "one_empty", per_class=2)
  os.makedirs(tmp_path / "one_empty" / "zebra")
  with pytest.raises(DataError, match="class folder .*zebra holds no images"):
    data.load(folder_config(str(tmp_path / "one_empty")))


def test_single_class_needs_allow_single_class(tmp_path):
  root = tmp_path / "only"
  os.makedirs(root / "cats")
  for i in range(4):
    draw_shape("circle", (200, 100, 50)).save(root / "cats" / f"{i}.png")
  with pytest.raises(DataError, match="single class .*--allow_single_class"):
    data.load(folder_config(str(root)))
  single = data.load(folder_config(str(root), allow_single_class=True), "all")
  assert single.class_names == ("cats",) and single.labels.tolist() == [0] * 4
  # No subdirectories at all: the images are one class, named after the folder.
  flat = root / "cats"
  assert data.load(folder_config(str(flat), allow_single_class=True), "all").class_names == ("cats",)


def _add_bad_files(root):
  with open(os.path.join(root, "circle", "notes.txt"), "w") as f:
    f.write("not an image")
  with open(os.path.join(root, "square", "001.jpg"), "rb") as f:
    good = f.read()
  with open(os.path.join(root, "square", "broken.jpg"), "wb") as f:
    f.write(good[:200])  # A truncated JPEG.
  return os.path.join(root, "circle", "notes.txt"), os.path.join(root, "square", "broken.jpg")


def test_bad_files_stop_with_an_error_naming_them(shapes_dir):
  text_file, broken = _add_bad_files(shapes_dir)
  with pytest.raises(DataError, match="--bad_images=skip") as error:
    data.load(folder_config(shapes_dir))
  assert text_file in str(error.value)
  os.remove(text_file)
  with pytest.raises(DataError, match="cannot be decoded") as error:
    data.load(folder_config(shapes_dir))
  assert broken in str(error.value)


def test_bad_files_are_skipped_with_a_warning_naming_each(shapes_dir, caplog):
  text_file, broken = _add_bad_files(shapes_dir)
  with caplog.at_level(logging.WARNING):
    decoded = own_images.decode(folder_config(shapes_dir, bad_images="skip"))
  assert len(decoded.labels) == 3 * PER_CLASS and broken not in decoded.paths
  assert [path for path, _ in decoded.skipped] == [text_file, broken]
  warnings = "\n".join(record.getMessage() for record in caplog.records)
  assert text_file in warnings and broken in warnings


@pytest.mark.parametrize("overrides,flag", [
    (dict(resize_mode="zoom"), "resize_mode"), (dict(channels=2), "channels"),
    (dict(holdout_fraction=1.0), "holdout_fraction"), (dict(image_size=-1), "image_size"),
    (dict(bad_images="ignore"), "bad_images"), (dict(data_source="csv"), "data_source"),
    (dict(run_dir="", mode="inspect_data"), "run_dir"),
    # The name keys the records and the evaluator cache: never a built-in set's for the user's own images.
    (dict(data_source="folder", data_dir="/data/pets"), "dataset"),
    (dict(data_source="npz", data_dir="/data/pets.npz", dataset="mnist"), "dataset"),
    (dict(data_source="folder", data_dir="/data/points", dataset="circle"), "dataset"),
    (dict(data_source="npz", dataset="pets"), "data_dir"),
])
def test_flag_values_are_validated(overrides, flag):
  with pytest.raises(ConfigError, match=f"--{flag}"):
    validation.validate(Config(**{"run_dir": "/tmp/run", **overrides}))


def test_images_outside_class_folders_and_hidden_files(shapes_dir):
  draw_shape("circle", (1, 2, 3)).save(os.path.join(shapes_dir, "stray.png"))
  with open(os.path.join(shapes_dir, "README.txt"), "w") as f:
    f.write("A top-level README is not data.")
  with open(os.path.join(shapes_dir, "circle", ".DS_Store"), "w") as f:
    f.write("hidden")
  with pytest.raises(DataError, match="stray.png: an image outside the class subdirectories"):
    data.load(folder_config(shapes_dir))
  decoded = own_images.decode(folder_config(shapes_dir, bad_images="skip"))
  assert decoded.class_names == ("circle", "square", "triangle") and len(decoded.labels) == 3 * PER_CLASS
  assert [os.path.basename(path) for path, _ in decoded.skipped] == ["stray.png"]


# --- Symbolic links in a folder ------------------------------------------------------------------


def _problems(root, **overrides):
  """The unusable entries of `root` as {path: reason}, and the error --bad_images=error gives."""
  with pytest.raises(DataError) as error:
    data.load(folder_config(root, **overrides), "all")
  return dict(own_images.list_folder(root).bad), str(error.value)


@pytest.mark.parametrize("make_link,problem", [
    (lambda root: os.symlink("gone.png", os.path.join(root, "circle", "dangling.png")),
     "a broken symbolic link (to gone.png, which does not exist)"),
    (lambda root: os.symlink("loop.png", os.path.join(root, "circle", "loop.png")),
     "a symbolic link loop"),
    (lambda root: os.symlink("missing_class", os.path.join(root, "zebra")),
     "a broken symbolic link (to missing_class"),
], ids=["dangling file", "looping file", "dangling class folder"])
def test_broken_or_looping_links_are_refused_or_skipped_naming_each(shapes_dir, make_link, problem, caplog):
  make_link(shapes_dir)
  bad, message = _problems(shapes_dir)
  [(path, reason)] = bad.items()
  assert reason.startswith(problem) and path in message and "--bad_images=skip" in message
  with caplog.at_level(logging.WARNING):
    decoded = own_images.decode(folder_config(shapes_dir, bad_images="skip"))
  assert decoded.class_names == ("circle", "square", "triangle") and len(decoded.labels) == 3 * PER_CLASS
  assert [item[0] for item in decoded.skipped] == [path] and path in caplog.text


@pytest.mark.parametrize("link,target,expected", [
    ("all", ".", "holds the whole data folder"),  # Every image again, as a fourth class.
    ("kittens", "circle", "the same directory as {root}/circle"),  # The circles under two labels.
    ("aardvark", "square", "the same directory as {root}/aardvark"),  # The alias sorts first: square is refused.
    ("circle/again", "..", "holds the whole data folder"),  # Inside a class: the data set again.
    ("circle/self", ".", "the same directory as {root}/circle"),  # A class twice over.
], ids=["link to the root", "class alias", "alias sorting first", "link to a parent", "link to itself"])
def test_directory_links_that_would_read_images_twice_are_never_followed(shapes_dir, link, target, expected):
  os.symlink(target, os.path.join(shapes_dir, link))
  bad, message = _problems(shapes_dir)
  [(path, reason)] = bad.items()
  assert expected.format(root=shapes_dir) in reason and path in message
  decoded = own_images.decode(folder_config(shapes_dir, bad_images="skip"))
  # Left out: no image is counted twice, and no class is made of another's images.
  assert len(decoded.labels) == len(set(os.path.realpath(p) for p in decoded.paths)) == 3 * PER_CLASS
  assert len(decoded.class_names) == 3


def test_a_file_link_into_another_class_is_refused(shapes_dir):
  copy = os.path.join(shapes_dir, "square", "borrowed.png")
  os.symlink(os.path.join("..", "circle", "000.png"), copy)
  bad, message = _problems(shapes_dir)
  assert bad == {copy: f"the same file as {shapes_dir}/circle/000.png (through a symbolic link): one image "
                       f"would be in the data set twice"}


def test_links_to_folders_outside_the_data_folder_are_followed(tmp_path):
  elsewhere = make_shapes_folder(tmp_path / "elsewhere", per_class=2)
  root = tmp_path / "assembled"
  os.makedirs(root / "square")
  draw_shape("square", (200, 0, 0)).save(root / "square" / "0.png")
  os.symlink(os.path.join(elsewhere, "circle"), root / "circle")
  os.makedirs(root / "triangle")
  os.symlink(os.path.join(elsewhere, "triangle"), root / "triangle" / "more")
  decoded = own_images.decode(folder_config(str(root)))
  assert decoded.class_names == ("circle", "square", "triangle")
  assert np.bincount(decoded.labels).tolist() == [2, 1, 2] and not decoded.skipped


def test_too_many_class_folders_are_refused_before_reading_them(tmp_path, monkeypatch):
  monkeypatch.setattr(own_images, "MAX_CLASSES", 3)
  root = make_shapes_folder(tmp_path / "four", per_class=1)
  os.makedirs(os.path.join(root, "zebra"))
  with pytest.raises(DataError, match=r"has 4 subdirectories, each a class, and a data set may have at most 3"):
    data.load(folder_config(root), "all")


# --- inspect_data --------------------------------------------------------------------------------


def test_inspect_data_reports_counts_and_writes_examples(shapes_dir, tmp_path, capsys):
  output_dir = str(tmp_path / "report")
  config = folder_config(shapes_dir, mode="inspect_data", run_dir="", output_dir=output_dir,
                         holdout_fraction=0.2, samples_per_class=4)
  report = main_lib.run(config)  # The --mode=inspect_data dispatch.
  assert report["class_names"] == ["circle", "square", "triangle"]
  assert report["train_counts"] == [8, 8, 8] and report["test_counts"] == [2, 2, 2]
  assert report["image_shape"] == [32, 32, 3]
  assert [tuple(item) for item in report["original_sizes"]] == [("32x32", 30)]
  # The background (16) covers most of each image; the shapes' colours raise one channel each.
  assert all(16 < mean < 128 for mean in report["channel_mean"])
  assert report["pixel_max"] >= 200
  grid = np.asarray(Image.open(report["examples_path"]))
  assert grid.shape == (3 * 34 + 2, 4 * 34 + 2, 3)  # Rows = classes, columns = samples_per_class.
  # Row 1 is the squares (JPEG and GIF files within their loss).
  assert np.abs(grid[2 + 34 + 16, 2 + 16].astype(int) - SHAPE_CLASSES["square"]).max() <= 24
  with open(os.path.join(output_dir, "data_report.json")) as f:
    assert json.load(f)["train_counts"] == [8, 8, 8]
  printed = capsys.readouterr().out
  assert "square" in printed and "Image shape: [32, 32, 3]" in printed


def test_inspect_data_on_npz(gray_npz, tmp_path):
  report = inspection.inspect(npz_config(gray_npz, mode="inspect_data", output_dir=str(tmp_path / "r")))
  assert report["train_counts"] == [14, 14, 14] and report["image_shape"] == [28, 28, 1]
  assert len(report["channel_mean"]) == 1 and report["pixel_max"] == 250


# --- Training on your own images -----------------------------------------------------------------


def _tiny_training(data_config: Config, run_dir: str) -> Config:
  return data_config.replace(run_dir=run_dir, batch_size=8, train_steps=2, checkpoint_every=2,
                             sample_every=2, log_every=1, samples_per_class=2, verbose=0, latent_dim=16)


@pytest.mark.slow
def test_train_on_a_folder_then_sample_a_class_and_export(shapes_dir, tmp_path):
  from cgan_tf import generate, train

  run_dir = str(tmp_path / "run")
  train.train(_tiny_training(folder_config(shapes_dir), run_dir))
  saved = RunDir(run_dir).saved_config()
  assert saved.class_names == ("circle", "square", "triangle")
  assert saved.image_shape == (32, 32, 3) and saved.num_classes == 3
  grids = os.listdir(os.path.join(run_dir, "samples"))
  grid = np.asarray(Image.open(os.path.join(run_dir, "samples", sorted(grids)[-1])))
  assert grid.shape == (3 * 34 + 2, 2 * 34 + 2, 3)
  paths = generate.sample(Config(mode="sample", run_dir=run_dir, label=2, num_images=3,
                                 output_dir=str(tmp_path / "triangles")))
  assert len(paths) == 4  # Three images and their grid.
  assert np.asarray(Image.open(paths[0])).shape == (32, 32, 3)

  # Export: the served model is asked by class index and maps it back to the folder's class names.
  from cgan_tf import export

  version_dir = export.export(Config(mode="export", run_dir=run_dir, export_dir=str(tmp_path / "models"),
                                     model_name="shapes"))
  served = tf.saved_model.load(version_dir)
  metadata = export.read_metadata(served)
  assert [name.decode() for name in metadata["class_names"]] == ["circle", "square", "triangle"]
  assert metadata["image_shape"].tolist() == [32, 32, 3]
  seed = tf.constant([5, 6], tf.int64)
  labels = tf.constant([0, 2, 2], tf.int32)
  out = served.signatures["serving_seeded"](label=labels, seed=seed)
  assert out["images"].shape == (3, 32, 32, 3) and out["images"].dtype == tf.uint8
  generator, _ = trained_run_lib.load_generator(RunDir(run_dir).saved_config())
  noise = rng.latent([3, 16], seed)  # The export draws the package's own seeded noise.
  expected = samples.to_uint8(generator([noise, labels], training=False))
  assert np.abs(out["images"].numpy().astype(int) - expected.astype(int)).max() <= 1


@pytest.mark.slow
def test_train_on_a_gray_npz(gray_npz, tmp_path):
  from cgan_tf import train

  run_dir = str(tmp_path / "run")
  model = train.train(_tiny_training(npz_config(gray_npz), run_dir))
  assert int(model.step_counter.numpy()) == 2
  saved = RunDir(run_dir).saved_config()
  assert saved.image_shape == (28, 28, 1) and saved.class_names == ("bar0", "bar1", "bar2")


@pytest.mark.slow
def test_the_evaluator_trains_on_the_folders_own_split(shapes_dir, tmp_path):
  from cgan_tf.evaluation import evaluator

  config = folder_config(shapes_dir, dataset="shapes", holdout_fraction=0.2, evaluator_epochs=1,
                         evaluator_dir=str(tmp_path / "evaluators"))
  info = evaluator.train_evaluator(config).info
  assert info["num_train"] == 24 and info["num_test"] == 6
  assert info["class_names"] == ["circle", "square", "triangle"] and info["image_shape"] == [32, 32, 3]
  assert os.path.exists(os.path.join(str(tmp_path / "evaluators"), "shapes", "classifier.keras"))
