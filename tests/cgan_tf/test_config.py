"""Flags become a validated config; every invalid value is refused with the flag's name."""

import dataclasses
import json
import subprocess
import sys

from absl import flags
from absl.testing import flagsaver
import pytest

from cgan_tf import main
from cgan_tf.config import Config, ConfigError
from cgan_tf import validation

FLAGS = flags.FLAGS


def parse(*argv) -> Config:
  FLAGS.unparse_flags()
  FLAGS(["cgan_tf"] + list(argv))
  return main.config_from_flags()


@pytest.fixture(autouse=True)
def restore_flags():
  with flagsaver.flagsaver():
    yield
  FLAGS.unparse_flags()


def test_flags_become_a_frozen_config(tmp_path):
  config = parse(f"--run_dir={tmp_path}", "--batch_size=64", "--g_learning_rate=0.001")
  assert config.batch_size == 64 and config.g_learning_rate == 0.001 and config.run_dir == str(tmp_path)
  with pytest.raises(Exception):
    config.batch_size = 3  # frozen


@pytest.mark.parametrize("argv,flag", [
    (["--batch_size=0"], "batch_size"),
    (["--batch_size=-8"], "batch_size"),
    (["--latent_dim=0"], "latent_dim"),
    (["--g_learning_rate=0"], "g_learning_rate"),
    (["--d_learning_rate=-1e-3"], "d_learning_rate"),
    (["--beta_1=1.5"], "beta_1"),
    (["--d_dropout=1.0"], "d_dropout"),
    (["--epochs=0", "--train_steps=0", "--train_images=0"], "train_images"),
    (["--checkpoint_every=0"], "checkpoint_every"),
    (["--steps_per_execution=4", "--checkpoint_every=10"], "checkpoint_every"),
    (["--mode=sample"], "output_dir"),
    (["--label=-3", "--mode=sample", "--output_dir=/tmp/x"], "label"),
    # The GAN options.
    (["--d_steps=0"], "d_steps"),
    (["--d_steps=3", "--update_scheme=simultaneous"], "d_steps"),
    (["--gp_weight=-1"], "gp_weight"),
    (["--r1_gamma=-0.5"], "r1_gamma"),
    (["--r1_every=0"], "r1_every"),
    (["--ema_decay=1.0"], "ema_decay"),
    (["--ema_decay=0.999", "--ema_start=-1"], "ema_start"),
    (["--ema_decay=0", "--ema_start=100"], "ema_start"),  # without a moving average
    (["--diffaugment=color,blur"], "diffaugment"),
    (["--diffaugment=color,color"], "diffaugment"),
    (["--loss=wasserstein"], "loss"),
    (["--g_filters=0"], "g_filters"),
    (["--train_minutes=-1"], "train_minutes"),
    (["--d_minibatch_std=-4"], "d_minibatch_std"),
    (["--d_minibatch_std=1"], "d_minibatch_std"),
    (["--batch_size=30", "--d_minibatch_std=4"], "d_minibatch_std"),
    (["--mode_seeking=-1"], "mode_seeking"),
    (["--mode_seeking=inf"], "mode_seeking"),
    (["--mode_seeking=1", "--batch_size=63"], "mode_seeking"),
])
def test_invalid_values_name_the_flag(tmp_path, argv, flag):
  with pytest.raises(ConfigError, match=f"--{flag}"):
    parse(f"--run_dir={tmp_path}", *argv)


@pytest.mark.parametrize("field,value", [("network", "resnet9000"), ("loss", "wgan-typo"),
                                         ("optimizer", "lamb"), ("lr_schedule", "step")])
def test_config_refuses_names_not_in_the_registries(field, value):
  """The Config's own check, for configurations that do not come from flags (config.json, tests, tools)."""
  with pytest.raises(ConfigError, match=f"--{field}: got '{value}'; allowed: "):
    validation.validate(Config(run_dir="/tmp/run", **{field: value}))


def test_list_flags_are_absl_lists_and_the_config_keeps_the_text(tmp_path):
  config = parse(f"--run_dir={tmp_path}", "--diffaugment=color,cutout", "--eval_metrics=frechet,kid")
  assert FLAGS.diffaugment == ["color", "cutout"] and FLAGS.eval_metrics == ["frechet", "kid"]
  assert config.diffaugment == "color,cutout" and config.diffaugment_policies == ("color", "cutout")
  assert config.eval_metrics == "frechet,kid"
  assert parse(f"--run_dir={tmp_path}", "--diffaugment=").diffaugment == ""
  with pytest.raises(ConfigError, match="--eval_metrics: got 'frechet,fid'; allowed: "):
    parse(f"--run_dir={tmp_path}", "--eval_metrics=frechet,fid")


def test_help_groups_the_flags_by_concern():
  groups = {module: {flag.name for flag in flag_list}
            for module, flag_list in FLAGS.flags_by_module_dict().items() if module.startswith("cgan_tf.flags.")}
  assert set(groups) == {f"cgan_tf.flags.{name}" for name in (
      "data", "networks", "training", "distribution", "outputs", "evaluation", "export")}
  assert {"dataset", "data_dir"} <= groups["cgan_tf.flags.data"]
  assert {"network", "g_conditioning"} <= groups["cgan_tf.flags.networks"]
  assert {"loss", "optimizer", "diffaugment", "mode_seeking"} <= groups["cgan_tf.flags.training"]
  assert {"strategy", "precision", "xla"} <= groups["cgan_tf.flags.distribution"]
  assert {"eval_metrics", "keep_best"} <= groups["cgan_tf.flags.evaluation"]
  assert {"export_dir", "max_batch"} <= groups["cgan_tf.flags.export"]
  # Every Config field but the ones the data set fills in is a flag, in exactly one group.
  defined = [name for names in groups.values() for name in names] + ["mode", "run_dir"]
  filled_in = {"image_shape", "num_classes", "class_names"}
  assert sorted(defined) == sorted(f.name for f in dataclasses.fields(Config) if f.name not in filled_in)


def test_missing_run_dir_is_named():
  with pytest.raises(ConfigError, match="--run_dir"):
    parse("--batch_size=8")


@pytest.mark.parametrize("argv,needle", [
    (["--strategy=quantum"], "strategy"),
    (["--precision=float8"], "precision"),
    # Enums whose choices come from the registries: absl refuses the value and lists the choices.
    (["--network=resnet9000"], r"--network=resnet9000: value should be one of <cdcgan\|keras_book\|mlp"),
    (["--loss=wgan-typo"], r"--loss=wgan-typo: value should be one of <nonsaturating\|hinge"),
    (["--optimizer=lamb"], r"--optimizer=lamb: value should be one of <adam\|rmsprop\|sgd>"),
    (["--preset=fmnst"], r"--preset=fmnst: value should be one of <circle\|fmnist\|fmnist_cpu"),
    (["--batch_size=twelve"], "batch_size"),
    (["--no_such_flag=1"], "no_such_flag"),
    (["--flagfile=/nonexistent/preset.cfg"], "/nonexistent/preset.cfg"),
])
def test_unparseable_flags_name_the_problem(argv, needle):
  with pytest.raises(flags.Error, match=needle):
    parse("--run_dir=/tmp/x", *argv)


def test_command_line_error_exits_2_with_the_flag_named(tmp_path):
  result = subprocess.run([sys.executable, "-m", "cgan_tf.main", f"--run_dir={tmp_path}", "--batch_size=0"],
                          capture_output=True, text=True, timeout=120)
  assert result.returncode == 2
  assert "--batch_size" in result.stderr
  assert not (tmp_path / "config.json").exists()  # nothing written for a refused run


def test_config_round_trips_through_json():
  config = Config(run_dir="/r", image_shape=(28, 28, 1), num_classes=10, class_names=("a",) * 10)
  assert Config.from_dict(json.loads(config.to_json())) == config


@pytest.mark.parametrize("changes,flag,needle", [
    (dict(network="mlp", g_conditioning="cbn"), "g_conditioning", "supports auto, concat"),
    (dict(network="resnet", g_conditioning="channel"), "g_conditioning", "supports auto, cbn"),
    (dict(network="resnet", d_conditioning="concat"), "d_conditioning", "supports auto, projection"),
    (dict(network="resnet", image_shape=(30, 30, 3)), "image_shape", "divisible by 4"),
    (dict(network="keras_book", d_minibatch_std=4), "d_minibatch_std", "no minibatch standard deviation"),
    (dict(network="cdcgan", d_conditioning="projection", num_classes=0), None, None),  # unconditional: unused
    (dict(network="mlp_points"), "network", "needs a points data set"),
    (dict(network="cdcgan", image_shape=(2,), num_classes=0), "network", "needs an image data set"),
    (dict(network="mlp_points", image_shape=(2,), num_classes=0, diffaugment="color"), "diffaugment", "points"),
    (dict(network="mlp_points", image_shape=(2,), num_classes=0, eval_every=100), "eval_every", "scatter"),
    (dict(num_classes=0), "num_classes", "--unconditional"),
    (dict(num_classes=0, unconditional=True, mode="sample", label=3), "label", "unconditional"),
])
def test_options_the_network_or_data_cannot_take_are_refused(changes, flag, needle):
  values = dict(image_shape=(28, 28, 1), num_classes=10)
  values.update(changes)
  if changes.get("num_classes") == 0 and "unconditional" not in changes and flag is None:
    values["unconditional"] = True
  if flag is None:
    validation.check_architecture(Config(**values))
    return
  with pytest.raises(ConfigError, match=f"--{flag}.*{needle}"):
    validation.check_architecture(Config(**values))


def test_architecture_check_names_image_shape():
  with pytest.raises(ConfigError, match="--image_shape.*divisible by 4"):
    validation.check_architecture(Config(image_shape=(30, 30, 1), num_classes=10))
