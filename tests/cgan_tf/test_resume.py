"""cgan_tf/resume.py: every configuration field has a row in the resume table, and each row does what it says."""

import dataclasses
import os

import pytest

from cgan_tf import resume
from cgan_tf.config import Config, ConfigError
from tests.helpers.data import REPO_ROOT

# A run with the options whose rows refuse only some changes switched on, so a change of them is allowed.
SAVED = Config(run_dir="/r", image_shape=(28, 28, 1), num_classes=10, class_names=tuple("abcdefghij"),
               ema_decay=0.999, lr_schedule="linear")


def other_value(value):
  """A value of the same type that differs from `value`."""
  if isinstance(value, bool):
    return not value
  if isinstance(value, (int, float)):
    return value + 1
  if isinstance(value, str):
    return value + "_other"
  if isinstance(value, tuple):
    return value + (value[-1] if value else 1,)
  assert value is None, value
  return "/elsewhere"


def test_every_config_field_has_exactly_one_row():
  fields = [field.name for field in dataclasses.fields(Config)]
  missing = [name for name in fields if name not in resume.RULES]
  assert not missing, (f"Config fields without a row in resume.RULES: {missing}; decide whether a resumed run "
                       f"must match, may change or is free to change each")
  assert sorted(resume.RULES) == sorted(fields), "rows for fields Config no longer has"
  assert {rule.kind for rule in resume.RULES.values()} == set(resume.KINDS)


@pytest.mark.parametrize("name", [field.name for field in dataclasses.fields(Config)])
def test_each_field_is_refused_logged_or_free_as_its_row_says(name):
  rule = resume.RULES[name]
  before = getattr(SAVED, name)
  after = other_value(before)
  changed = SAVED.replace(**{name: after})
  if rule.kind == resume.MUST_MATCH:
    with pytest.raises(ConfigError) as refused:
      resume.check_resumable(SAVED, changed)
    message = str(refused.value)
    assert message.startswith(f"--{rule.flag or name}: /r holds a run with {name}={before!r}, but this run has "
                              f"{name}={after!r}; its checkpoints cannot be resumed"), message
    assert "To continue it" in message and "new --run_dir" in message
  elif rule.kind == resume.MAY_CHANGE:
    assert resume.check_resumable(SAVED, changed) == [(name, before, after)]
  else:
    assert resume.check_resumable(SAVED, changed) == []


def test_an_optimizer_change_is_refused_naming_the_flag_and_the_way_back():
  with pytest.raises(ConfigError, match=r"^--optimizer: /r holds a run with optimizer='adam', but this run has "
                                        r"optimizer='rmsprop'; .*slots.* rerun with --optimizer=adam"):
    resume.check_resumable(SAVED, SAVED.replace(optimizer="rmsprop"))


@pytest.mark.parametrize("before,after", [("float32", "float64"), ("auto", "float64"), ("float64", "float32"),
                                          ("float64", "mixed_float16")])
def test_a_precision_change_to_or_from_float64_is_refused(before, after):
  with pytest.raises(ConfigError, match=rf"^--precision: /r holds a run with --precision={before}, this run has "
                                        rf"--precision={after}; .*Rerun with --precision={before}"):
    resume.check_resumable(SAVED.replace(precision=before), SAVED.replace(precision=after))


def test_other_precision_and_recipe_changes_are_returned_for_the_log():
  changed = SAVED.replace(precision="mixed_float16", loss="hinge", train_steps=800)
  changes = resume.check_resumable(SAVED, changed)
  assert changes == [("precision", "auto", "mixed_float16"), ("loss", "nonsaturating", "hinge"),
                     ("train_steps", 0, 800)]
  assert resume.describe_changes(changes) == ("--precision: auto -> mixed_float16; --loss: nonsaturating -> hinge; "
                                              "--train_steps: 0 -> 800")


def test_the_docs_show_the_table_as_the_code_has_it():
  with open(os.path.join(REPO_ROOT, "docs", "reliability.md"), encoding="utf-8") as f:
    docs = f.read()
  assert resume.markdown_table() in docs, ("docs/reliability.md's resume table differs from the code's; paste "
                                           "the output of `python -m cgan_tf.resume`")


def test_incompatible_run_dir_is_refused():
  saved = Config(run_dir="/r", network="cdcgan", image_shape=(28, 28, 1), num_classes=10)
  with pytest.raises(ConfigError, match="image_shape"):
    resume.check_resumable(saved, saved.replace(image_shape=(32, 32, 3)))
  with pytest.raises(ConfigError, match="latent_dim"):
    resume.check_resumable(saved, saved.replace(latent_dim=64))
  resume.check_resumable(saved, saved.replace(batch_size=7))  # training settings may change


def test_a_run_dir_with_or_without_a_moving_average_is_not_resumed_the_other_way():
  saved = Config(run_dir="/r", image_shape=(28, 28, 1), num_classes=10, ema_decay=0.999)
  resume.check_resumable(saved, saved.replace(ema_decay=0.99))  # another decay is fine
  with pytest.raises(ConfigError, match="--ema_decay"):
    resume.check_resumable(saved, saved.replace(ema_decay=0.0))
  with pytest.raises(ConfigError, match="g_conditioning"):
    resume.check_resumable(saved, saved.replace(g_conditioning="cbn"))


def test_a_run_dir_with_a_constant_learning_rate_is_not_resumed_with_a_decay_or_back():
  saved = Config(run_dir="/r", image_shape=(28, 28, 1), num_classes=10, lr_schedule="linear")
  resume.check_resumable(saved, saved.replace(lr_schedule="cosine"))  # both schedules keep one layout
  with pytest.raises(ConfigError, match="--lr_schedule"):
    resume.check_resumable(saved, saved.replace(lr_schedule="constant"))
  with pytest.raises(ConfigError, match="--lr_schedule"):
    resume.check_resumable(saved.replace(lr_schedule="constant"), saved)
