"""Export: the SavedModel's signatures, its validation, its versioning, the .keras copy and the client."""

import io
import json
import os
import re
import subprocess
import sys
import textwrap

import keras
import numpy as np
from PIL import Image
import pytest
import tensorflow as tf
from tensorflow.core.protobuf import config_pb2
from tensorflow.core.protobuf import saved_model_pb2

from cgan_tf import export
from cgan_tf import trained_run as trained_run_lib
from cgan_tf import networks
from cgan_tf import rng
from cgan_tf import samples
from cgan_tf import train
from cgan_tf.config import Config, ConfigError
from cgan_tf import validation
from tests.helpers.data import REPO_ROOT, make_idx_dataset
from tests.helpers.serving import serve_like_tf_serving, tf_serving_stand_in
from tests.helpers.published import local_paths
from tests.helpers.runs import QUIET

from tools import serving_client

pytestmark = pytest.mark.slow

STEPS = 4
SIGNATURES = (export.SERVING_DEFAULT, export.SERVING_SEEDED, export.SERVING_LATENT)


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
  """One smoke training run shared by every test here; returns an export invocation's Config."""
  base = tmp_path_factory.mktemp("export")
  idx_dir = make_idx_dataset(str(base / "idx"))
  train.train(Config(run_dir=str(base / "run"), dataset="synthetic", data_source="idx", data_dir=idx_dir,
                     batch_size=32, train_steps=STEPS, checkpoint_every=2, sample_every=2, log_every=1,
                     samples_per_class=3, verbose=0, seed=7, **QUIET))
  return Config(mode="export", run_dir=str(base / "run"), export_dir=str(base / "models"),
                model_name="fashion", max_batch=64)


@pytest.fixture(scope="module")
def exported(trained_run):
  return export.export(trained_run)


@pytest.fixture(scope="module")
def served(exported):
  return tf.saved_model.load(exported)


@pytest.fixture(scope="module")
def keras_generator(trained_run):
  generator, _ = trained_run_lib.load_generator(trained_run_lib.load_run_config(trained_run))
  return generator


def keras_images(generator, noise, labels):
  return samples.to_uint8(generator([tf.constant(noise), tf.constant(labels, tf.int32)], training=False))


def test_export_writes_the_training_step_version_with_metadata(trained_run, exported, served):
  model_dir = os.path.join(trained_run.export_dir, "fashion")
  assert exported == os.path.join(model_dir, str(STEPS))
  assert str(STEPS) in os.listdir(model_dir)
  assert [name for name in os.listdir(model_dir) if not name.isdigit()] == []  # No temporary directory.
  for name in ("saved_model.pb", "variables", export.KERAS_FILE):
    assert os.path.exists(os.path.join(exported, name)), name
  with open(os.path.join(exported, "assets", export.METADATA_FILE)) as f:
    metadata = json.load(f)
  assert metadata["training_step"] == STEPS
  assert metadata["image_shape"] == [28, 28, 1]
  assert metadata["class_names"] == [str(k) for k in range(10)]
  assert metadata["latent_dim"] == 100 and metadata["max_batch"] == 64
  assert metadata["config"]["seed"] == 7 and metadata["weights"] == "ema_generator (decay 0.995)"
  # Published: neither the file nor the metadata signature names a path of the machine that made it.
  served_metadata = export.read_metadata(served)
  assert metadata["checkpoint"] == f"ckpt-{STEPS}" and metadata["config"]["run_dir"] == ""
  roots = (os.path.dirname(trained_run.run_dir), trained_run.export_dir)
  assert local_paths(metadata, *roots) == []
  assert local_paths(json.loads(served_metadata["metadata_json"].decode()), *roots) == []
  assert local_paths({key: value.decode() for key, value in served_metadata.items()
                      if isinstance(value, bytes)}, *roots) == []


FRESH_PROCESS = textwrap.dedent("""
    import json, sys
    sys.modules["cgan_tf"] = None  # Any import of our package now raises ImportError.
    import numpy as np
    import tensorflow as tf

    export_path, inputs_path, outputs_path = sys.argv[1:]
    inputs = np.load(inputs_path)
    model = tf.saved_model.load(export_path)
    signatures = model.signatures
    result = {"signatures": np.array(sorted(signatures))}
    default = signatures["serving_default"](label=tf.constant(inputs["labels"]))
    result["default_images"] = default["images"].numpy()
    # Object arrays do not survive np.savez without pickle: keep each PNG's first 8 bytes (its signature).
    result["default_png_heads"] = np.array([png[:8] for png in default["images_png_bytes"].numpy()])
    seed = tf.constant(inputs["seed"])
    for run in ("a", "b"):
      seeded = signatures["serving_seeded"](label=tf.constant(inputs["labels"]), seed=seed)
      result["seeded_" + run] = seeded["images"].numpy()
    other = signatures["serving_seeded"](label=tf.constant(inputs["labels"]), seed=seed + 1)
    result["seeded_other_seed"] = other["images"].numpy()
    latent = signatures["serving_latent"](label=tf.constant(inputs["labels"]),
                                          noise=tf.constant(inputs["noise"]))
    result["latent"] = latent["images"].numpy()
    metadata = signatures["metadata"](unused=tf.constant(0))
    result["metadata_json"] = np.array(metadata["metadata_json"].numpy().decode())
    result["class_names"] = metadata["class_names"].numpy().astype(str)
    result["cgan_tf_loaded"] = np.array(any(name.startswith("cgan_tf") and sys.modules[name] is not None
                                            for name in sys.modules))
    np.savez(outputs_path, **result)
""")


def test_fresh_process_without_cgan_tf_serves_the_generators_images(exported, keras_generator, tmp_path):
  labels = np.array([7, 7, 0, 3, 9], np.int32)
  noise = np.random.default_rng(3).standard_normal((len(labels), 100)).astype(np.float32)
  seed = np.array([11, 12], np.int64)
  np.savez(tmp_path / "inputs.npz", labels=labels, noise=noise, seed=seed)
  script = tmp_path / "fresh.py"
  script.write_text(FRESH_PROCESS)
  subprocess.run([sys.executable, str(script), exported, str(tmp_path / "inputs.npz"),
                  str(tmp_path / "outputs.npz")], check=True, cwd=str(tmp_path),
                 env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
  out = np.load(tmp_path / "outputs.npz")

  assert not out["cgan_tf_loaded"]
  assert sorted(out["signatures"]) == sorted(SIGNATURES + (export.METADATA,))
  assert out["default_images"].dtype == np.uint8 and out["default_images"].shape == (5, 28, 28, 1)
  assert list(out["default_png_heads"]) == [b"\x89PNG\r\n\x1a\n"] * 5
  # The latent signature is the Keras generator, to the pixel, for the same noise and labels.
  expected = keras_images(keras_generator, noise, labels)
  assert out["latent"].dtype == np.uint8 and out["latent"].shape == expected.shape
  np.testing.assert_array_equal(out["latent"], expected)
  # The seeded signature: stateless noise from the seed, identical on every call.
  np.testing.assert_array_equal(out["seeded_a"], out["seeded_b"])
  seeded_noise = rng.latent([len(labels), 100], seed).numpy()
  np.testing.assert_array_equal(out["seeded_a"], keras_images(keras_generator, seeded_noise, labels))
  assert not np.array_equal(out["seeded_a"], out["seeded_other_seed"])
  metadata = json.loads(str(out["metadata_json"]))
  assert metadata["training_step"] == STEPS and metadata["num_classes"] == 10
  assert list(out["class_names"]) == [str(k) for k in range(10)]


def test_png_bytes_decode_to_the_images(served):
  for name, inputs in ((export.SERVING_DEFAULT, {}), (export.SERVING_SEEDED, {"seed": [5, 6]})):
    outputs = served.signatures[name](label=tf.constant([1, 4, 4], tf.int32),
                                      **{k: tf.constant(v, tf.int64) for k, v in inputs.items()})
    images = outputs["images"].numpy()
    pngs = outputs["images_png_bytes"].numpy()
    assert len(pngs) == 3
    for image, png in zip(images, pngs):
      decoded = np.asarray(Image.open(io.BytesIO(png)))
      np.testing.assert_array_equal(decoded, image[..., 0])


def test_default_signature_draws_fresh_noise(served):
  first = served.signatures[export.SERVING_DEFAULT](label=tf.constant([2, 2], tf.int32))["images"]
  second = served.signatures[export.SERVING_DEFAULT](label=tf.constant([2, 2], tf.int32))["images"]
  assert not np.array_equal(first.numpy(), second.numpy())


def _labels(*values):
  return tf.constant(values, tf.int32)


BAD_REQUESTS = {
    "label above the classes": (export.SERVING_DEFAULT, dict(label=_labels(3, 10)),
                                ["label", "[0, 10)"]),
    "negative label": (export.SERVING_LATENT, dict(label=_labels(-1), noise=tf.zeros([1, 100])),
                       ["label", "[0, 10)"]),
    "empty batch": (export.SERVING_DEFAULT, dict(label=tf.zeros([0], tf.int32)),
                    ["label", "between 1 and 64"]),
    "batch over the cap": (export.SERVING_SEEDED, dict(label=tf.zeros([65], tf.int32),
                                                       seed=tf.constant([1, 2], tf.int64)),
                           ["label", "between 1 and 64"]),
    "seed of three": (export.SERVING_SEEDED, dict(label=_labels(1), seed=tf.constant([1, 2, 3], tf.int64)),
                      ["seed must be two integers, shape [2]"]),
    "noise of the wrong size": (export.SERVING_LATENT, dict(label=_labels(1), noise=tf.zeros([1, 99])),
                                ["noise", "[batch, 100]"]),
    "noise for another batch": (export.SERVING_LATENT, dict(label=_labels(1, 2), noise=tf.zeros([3, 100])),
                                ["noise", "[batch, 100]"]),
    "noise not finite": (export.SERVING_LATENT, dict(label=_labels(1), noise=tf.fill([1, 100], np.nan)),
                         ["noise", "finite"]),
}


@pytest.mark.parametrize("case", sorted(BAD_REQUESTS))
def test_bad_requests_fail_with_invalid_argument_naming_the_input(served, case):
  signature, inputs, fragments = BAD_REQUESTS[case]
  with pytest.raises(tf.errors.InvalidArgumentError) as error:
    served.signatures[signature](**inputs)
  for fragment in fragments:
    assert fragment in error.value.message


def test_an_existing_version_is_never_overwritten(trained_run, exported):
  from cgan_tf import main  # Goes through the --mode=export dispatch, as the command line does.

  pb_path = os.path.join(exported, "saved_model.pb")
  with open(pb_path, "rb") as f:
    original = f.read()
  mtime = os.stat(pb_path).st_mtime_ns
  with pytest.raises(ConfigError, match="--export_version: .* already exists"):
    main.run(trained_run)
  with pytest.raises(ConfigError, match="--export_version"):
    main.run(trained_run.replace(export_version=STEPS))
  with open(pb_path, "rb") as f:
    assert f.read() == original
  assert os.stat(pb_path).st_mtime_ns == mtime

  model_dir = os.path.dirname(exported)
  os.makedirs(os.path.join(model_dir, "2"))  # An older version: the next free number is above the newest.
  written = main.run(trained_run.replace(export_next_free_version=True))
  assert written == os.path.join(model_dir, str(STEPS + 1))
  assert sorted(os.listdir(model_dir)) == ["2", str(STEPS), str(STEPS + 1)]
  assert os.stat(pb_path).st_mtime_ns == mtime


def test_unwritable_export_dir_fails_first_naming_the_flag(tmp_path):
  blocker = tmp_path / "a_file"
  blocker.write_text("not a directory")
  # The run directory does not exist either: the export directory must be the first thing checked.
  config = Config(mode="export", run_dir=str(tmp_path / "no_run"), export_dir=str(blocker / "models"))
  with pytest.raises(ConfigError, match="^--export_dir: .* is not writable"):
    export.export(config)


@pytest.mark.parametrize("changes, flag", [
    (dict(export_dir=""), "--export_dir"),
    (dict(model_name="a/b"), "--model_name"),
    (dict(model_name=""), "--model_name"),
    (dict(export_version=-1), "--export_version"),
    (dict(max_batch=0), "--max_batch"),
    (dict(export_source="oldest"), "--export_source"),
])
def test_export_flags_are_validated(changes, flag):
  config = Config(mode="export", run_dir="/tmp/run", export_dir="/tmp/models").replace(**changes)
  with pytest.raises(ConfigError, match=f"^{flag}:"):
    validation.validate(config)


def parse_saved_model_cli(text):
  """{signature: {"inputs"|"outputs": {name: (dtype, shape)}}} from `saved_model_cli show --all`."""
  parsed, signature, section = {}, None, None
  for line in text.splitlines():
    if match := re.match(r"signature_def\['(.+)'\]:", line):
      signature = parsed.setdefault(match.group(1), {"inputs": {}, "outputs": {}})
    elif "contains the following input(s)" in line:
      section = "inputs"
    elif "contains the following output(s)" in line:
      section = "outputs"
    elif match := re.match(r"\s+(inputs|outputs)\['(.+)'\] tensor_info:", line):
      name = match.group(2)
    elif match := re.match(r"\s+dtype: (\w+)", line):
      dtype = match.group(1)
    elif (match := re.match(r"\s+shape: (.+)", line)) and signature is not None:
      signature[section][name] = (dtype, match.group(1))
    elif line.startswith("Concrete Functions"):
      break
  return parsed


def test_saved_model_cli_show_lists_the_documented_signatures(exported):
  shown = subprocess.run(["saved_model_cli", "show", "--dir", exported, "--all"], check=True,
                         capture_output=True, text=True).stdout
  parsed = parse_saved_model_cli(shown)
  outputs = {"images": ("DT_UINT8", "(-1, 28, 28, 1)"), "images_png_bytes": ("DT_STRING", "(-1)")}
  label = {"label": ("DT_INT32", "(-1)")}
  assert parsed[export.SERVING_DEFAULT] == {"inputs": label, "outputs": outputs}
  assert parsed[export.SERVING_SEEDED] == {"inputs": {**label, "seed": ("DT_INT64", "(-1)")},
                                           "outputs": outputs}
  assert parsed[export.SERVING_LATENT] == {"inputs": {**label, "noise": ("DT_FLOAT", "(-1, 100)")},
                                           "outputs": outputs}
  assert parsed[export.METADATA]["inputs"] == {export.METADATA_INPUT: ("DT_INT32", "()")}
  assert parsed[export.METADATA]["outputs"]["latent_dim"] == ("DT_INT32", "()")
  assert parsed[export.METADATA]["outputs"]["noise"] == ("DT_STRING", "()")
  assert parsed[export.METADATA]["outputs"]["training_step"] == ("DT_INT64", "()")
  assert parsed[export.METADATA]["outputs"]["class_names"] == ("DT_STRING", "(10)")


def test_saved_model_cli_run_gives_the_seeded_images(exported, served, tmp_path):
  subprocess.run(["saved_model_cli", "run", "--dir", exported, "--tag_set", "serve", "--signature_def",
                  export.SERVING_SEEDED, "--input_exprs", "label=[1,8];seed=[3,4]", "--outdir",
                  str(tmp_path)], check=True, capture_output=True)
  expected = served.signatures[export.SERVING_SEEDED](label=_labels(1, 8),
                                                      seed=tf.constant([3, 4], tf.int64))["images"]
  np.testing.assert_array_equal(np.load(tmp_path / "images.npy"), expected.numpy())


def test_client_request_formats_give_the_same_images(served, keras_generator):
  labels = [6, 6, 1]
  noise = serving_client.interpolation_noise(3, 100, seed=5)
  expected = keras_images(keras_generator, noise, np.array(labels))
  latent = served.signatures[export.SERVING_LATENT]
  for request_format in serving_client.FORMATS:
    body = serving_client.build_request(export.SERVING_LATENT, labels, request_format, noise=noise)
    body = json.loads(json.dumps(body))  # Exactly what goes over the wire.
    images, pngs = serving_client.decode_response(serve_like_tf_serving(latent, body))
    np.testing.assert_array_equal(images, expected)
    np.testing.assert_array_equal(np.stack([np.asarray(Image.open(io.BytesIO(p))) for p in pngs]),
                                  expected[..., 0])
  # serving_default in both formats: shapes only, its noise is fresh on every call.
  for request_format in serving_client.FORMATS:
    body = serving_client.build_request(export.SERVING_DEFAULT, labels, request_format)
    images, pngs = serving_client.decode_response(
        serve_like_tf_serving(served.signatures[export.SERVING_DEFAULT], body))
    assert images.shape == (3, 28, 28, 1) and len(pngs) == 3
  # The seeded signature: columnar only, since its seed is one tensor for the whole batch.
  body = serving_client.build_request(export.SERVING_SEEDED, labels, "inputs", seed=[8, 9])
  images, _ = serving_client.decode_response(
      serve_like_tf_serving(served.signatures[export.SERVING_SEEDED], body))
  seeded_noise = rng.latent([3, 100], tf.constant([8, 9], tf.int64)).numpy()
  np.testing.assert_array_equal(images, keras_images(keras_generator, seeded_noise, np.array(labels)))
  with pytest.raises(serving_client.ClientError, match="--format=inputs"):
    serving_client.build_request(export.SERVING_SEEDED, labels, "instances", seed=[8, 9])


def test_seeded_signature_gives_the_sample_modes_images_for_seed_and_class(served, keras_generator):
  # serving_seeded with seed [s, k] and label k is `--mode=sample --class=k --seed=s`: one noise function.
  for label, seed in ((7, 5), (0, 123)):
    out = served.signatures[export.SERVING_SEEDED](label=tf.fill([4], label),
                                                   seed=tf.constant([seed, label], tf.int64))
    expected = samples.generate_class(keras_generator, label, 4, 100, seed)
    np.testing.assert_array_equal(out["images"].numpy(), expected)


@pytest.fixture
def fake_tf_serving(exported, served):
  with tf_serving_stand_in(exported, served) as port:
    yield port


def test_tf_serving_stand_in_describes_and_refuses_like_tf_serving(fake_tf_serving, exported):
  base = f"http://127.0.0.1:{fake_tf_serving}/v1/models/fashion"
  described = serving_client.get(f"{base}/versions/{STEPS}/metadata")
  assert described["model_spec"] == {"name": "fashion", "signature_name": "", "version": str(STEPS)}
  signatures = described["metadata"]["signature_def"]["signature_def"]
  # Every SignatureDef of the MetaGraph, as TF Serving copies them: the init op's too.
  assert sorted(signatures) == sorted(SIGNATURES + (export.METADATA, "__saved_model_init_op"))
  noise = signatures[export.SERVING_LATENT]["inputs"]["noise"]
  assert noise["dtype"] == "DT_FLOAT"
  assert noise["tensor_shape"] == {"dim": [{"size": "-1", "name": ""}, {"size": "100", "name": ""}],
                                   "unknown_rank": False}
  assert signatures[export.METADATA]["inputs"][export.METADATA_INPUT]["tensor_shape"]["dim"] == []
  assert signatures[export.METADATA]["method_name"] == "tensorflow/serving/predict"
  assert "error" in serving_client.get(f"{base}/versions/{STEPS + 1}/metadata")
  # The metadata signature runs in the columnar format once it is sent its input.
  predict = serving_client.predict_url("127.0.0.1", fake_tf_serving, "fashion")
  for body, error in (({"inputs": {}}, f"Missing named input: {export.METADATA_INPUT}"),
                      ({"instances": [0]}, "has no shape information"),
                      ({"inputs": {export.METADATA_INPUT: 0}}, None)):
    answer = serving_client.post(predict, {"signature_name": export.METADATA, **body})
    if error:
      assert error in answer["error"]
    else:
      assert answer["outputs"]["latent_dim"] == 100 and answer["outputs"]["noise"] == "normal"


def test_client_writes_the_served_pngs(fake_tf_serving, served, tmp_path):
  argv = ["--host=127.0.0.1", f"--port={fake_tf_serving}", "--model_name=fashion", "--label=5",
          "--count=4", "--signature=serving_seeded", "--seed=2,3", "--format=inputs",
          f"--output_dir={tmp_path}"]
  paths = serving_client.main(argv)
  expected = served.signatures[export.SERVING_SEEDED](label=tf.fill([4], 5),
                                                      seed=tf.constant([2, 3], tf.int64))["images"]
  assert [os.path.basename(p) for p in paths] == [f"class5_{i:04d}.png" for i in range(4)]
  np.testing.assert_array_equal(np.stack([np.asarray(Image.open(p)) for p in paths]),
                                expected.numpy()[..., 0])
  # A bad request comes back as TF Serving's 400 {"error": ...}, which the client reports.
  with pytest.raises(serving_client.ClientError, match=r"label values must be class indices in \[0, 10\)"):
    serving_client.main(argv[:3] + ["--label=12", "--count=1", f"--output_dir={tmp_path}"])


def test_keras_file_loads_in_safe_mode_and_matches(exported, keras_generator):
  loaded = keras.models.load_model(os.path.join(exported, export.KERAS_FILE), safe_mode=True)
  noise = np.random.default_rng(1).standard_normal((3, 100)).astype(np.float32)
  labels = np.array([0, 4, 9], np.int32)
  np.testing.assert_allclose(loaded.predict([noise, labels], verbose=0),
                             keras_generator([noise, labels], training=False).numpy(), atol=1e-6)


def test_tf1_session_loader_serves_and_validates_like_tf_serving(exported, served):
  """TF Serving loads a SavedModel into a TF1 session and feeds tensors by name, unchecked.

  Python's session.run refuses a shape the placeholder does not allow, and TF Serving's C++ Session::Run
  does not; a callable made from CallableOptions feeds through that C++ path, so the graph sees exactly
  what a TF Serving request feeds it, declared shapes (noise [-1, 100]) and all.
  """
  expected = served.signatures[export.SERVING_SEEDED](label=_labels(2, 3),
                                                      seed=tf.constant([4, 5], tf.int64))["images"]
  with open(os.path.join(exported, "saved_model.pb"), "rb") as f:
    signatures = saved_model_pb2.SavedModel.FromString(f.read()).meta_graphs[0].signature_def
  with tf.Graph().as_default(), tf.compat.v1.Session() as session:
    tf.compat.v1.saved_model.loader.load(session, ["serve"], exported)

    def run(name, output="images", **feeds):
      signature = signatures[name]
      options = config_pb2.CallableOptions(feed=[signature.inputs[key].name for key in feeds],
                                           fetch=[signature.outputs[output].name])
      values = [np.asarray(value, tf.as_dtype(signature.inputs[key].dtype).as_numpy_dtype)
                for key, value in feeds.items()]
      return session._make_callable_from_options(options)(*values)[0]  # pylint: disable=protected-access

    np.testing.assert_array_equal(run(export.SERVING_SEEDED, label=[2, 3], seed=[4, 5]), expected.numpy())
    # The metadata signature's input is ignored, whatever a client sends.
    for unused in (0, [7, 7]):
      assert run(export.METADATA, "latent_dim", unused=unused) == 100
    bad = [(export.SERVING_DEFAULT, dict(label=[11]), "label values must be class indices in [0, 10)"),
           (export.SERVING_SEEDED, dict(label=[1], seed=[1, 2, 3]), "seed must be two integers"),
           (export.SERVING_LATENT, dict(label=[1], noise=np.zeros((1, 7), np.float32)),
            "noise must have shape [batch, 100]"),
           (export.SERVING_SEEDED, dict(label=[1], seed=np.int64(5)), "seed must be two integers"),
           (export.SERVING_LATENT, dict(label=[1], noise=np.zeros((1, 1, 100), np.float32)),
            "noise must have shape [batch, 100]"),
           (export.SERVING_LATENT, dict(label=[1], noise=np.zeros((1, 100, 3), np.float32)),
            "noise must have shape [batch, 100]"),
           (export.SERVING_DEFAULT, dict(label=np.zeros((2, 1), np.int32)), "label must be a vector")]
    for name, feeds, message in bad:
      with pytest.raises(tf.errors.InvalidArgumentError) as error:
        run(name, **feeds)
      assert message in error.value.message


def client_argv(port, tmp_path, *extra):
  return ["--host=127.0.0.1", f"--port={port}", "--model_name=fashion", "--label=4",
          "--signature=serving_latent", f"--output_dir={tmp_path}", *extra]


def test_client_interpolates_with_the_latent_size_and_noise_the_model_describes(
    fake_tf_serving, keras_generator, tmp_path):
  paths = serving_client.main(client_argv(fake_tf_serving, tmp_path, "--interpolate=5", "--noise_seed=3"))
  noise = serving_client.interpolation_noise(5, 100, 3, "normal")  # latent_dim and noise from the model.
  expected = keras_images(keras_generator, noise, [4] * 5)
  np.testing.assert_array_equal(np.stack([np.asarray(Image.open(p)) for p in paths]), expected[..., 0])


@pytest.mark.parametrize("noise", ["normal", "uniform"])
def test_client_noise_follows_the_distribution(noise):
  path = serving_client.interpolation_noise(9, 64, 0, noise)
  ends = serving_client.random_noise(2, 64, 0, noise)
  np.testing.assert_allclose(path[[0, -1]], ends, rtol=1e-5, atol=1e-6)
  if noise == "uniform":  # A straight line, inside the cube.
    assert np.all(np.abs(path) <= 1.0)
    np.testing.assert_allclose(path[4], ends.mean(axis=0), rtol=1e-5, atol=1e-6)
  else:  # On the sphere: the middle keeps a typical norm.
    assert np.linalg.norm(path[4]) > 0.9 * min(np.linalg.norm(ends, axis=1))
  independent = serving_client.random_noise(1000, 8, 1, noise)
  assert (np.abs(independent).max() <= 1.0) == (noise == "uniform")


def test_client_reads_latent_dim_and_noise_of_another_model(tmp_path):
  """A model with 7 noise values drawn uniformly: neither is the client's default, so both were read."""
  config = Config(run_dir="unused", dataset="fashion_mnist", image_shape=(28, 28, 1), num_classes=10,
                  class_names=tuple(str(k) for k in range(10)), latent_dim=7, noise="uniform")
  keras.utils.set_random_seed(0)
  generator, _ = networks.build_networks(config)
  version_dir = str(tmp_path / "models" / "fashion" / "1")
  export.write_saved_model(generator, config, export.build_metadata(config, 0, "none", "untrained"),
                           version_dir)
  with tf_serving_stand_in(version_dir) as port:
    paths = serving_client.main(client_argv(port, tmp_path / "out", "--interpolate=3", "--noise_seed=2"))
  expected = keras_images(generator, serving_client.interpolation_noise(3, 7, 2, "uniform"), [4] * 3)
  np.testing.assert_array_equal(np.stack([np.asarray(Image.open(p)) for p in paths]), expected[..., 0])


class InputlessMetadataServingModule(export.ServingModule):
  """The signatures as exported before the model described itself over REST: noise of open width, and a
  metadata signature without inputs, which TF Serving's REST API refuses to run."""

  def _noise_spec(self):
    return tf.TensorSpec([None, None], tf.float32, name="noise")

  @tf.function(input_signature=[])
  def metadata(self):  # pylint: disable=arguments-differ
    return export.ServingModule.metadata.python_function(self, None)


def test_client_asks_for_the_flags_when_an_older_export_cannot_say(trained_run, keras_generator, tmp_path):
  config = trained_run_lib.load_run_config(trained_run)
  metadata = export.build_metadata(config, STEPS, "none", "generator")
  metadata_path = tmp_path / export.METADATA_FILE
  metadata_path.write_text(json.dumps(metadata))
  module = InputlessMetadataServingModule(keras_generator, 10, 100, 64, metadata, str(metadata_path))
  version_dir = str(tmp_path / "models" / "fashion" / "1")
  tf.saved_model.save(module, version_dir, signatures=module.signatures())
  # In-process readers (the evaluation's SavedModel source) still read it.
  assert export.read_metadata(tf.saved_model.load(version_dir))["noise"] == b"normal"
  with tf_serving_stand_in(version_dir) as port:
    with pytest.raises(serving_client.ClientError,
                       match="takes no inputs.*; pass --latent_dim and --noise as recorded"):
      serving_client.main(client_argv(port, tmp_path, "--count=2"))
    with pytest.raises(serving_client.ClientError, match="; pass --latent_dim as recorded"):
      serving_client.main(client_argv(port, tmp_path, "--count=2", "--noise=uniform"))
    paths = serving_client.main(client_argv(port, tmp_path, "--count=2", "--latent_dim=100",
                                            "--noise=uniform"))
  expected = keras_images(keras_generator, serving_client.random_noise(2, 100, 0, "uniform"), [4, 4])
  np.testing.assert_array_equal(np.stack([np.asarray(Image.open(p)) for p in paths]), expected[..., 0])


def test_client_needs_neither_tensorflow_nor_cgan_tf(tmp_path):
  script = textwrap.dedent(f"""
    import sys
    sys.modules["tensorflow"] = None  # Any import of these now raises ImportError.
    sys.modules["cgan_tf"] = None
    sys.path.insert(0, {os.path.join(REPO_ROOT, "tools")!r})
    import serving_client
    print(serving_client.interpolation_noise(4, 3, 0, "uniform").shape)
  """)
  result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=str(tmp_path))
  assert result.returncode == 0, result.stderr
  assert result.stdout.strip() == "(4, 3)"
