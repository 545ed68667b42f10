"""tools/flags_reference.py: docs/flags.md is what the flag definitions generate, every flag in its group."""

from absl import flags

from tools import flags_reference


def test_the_flags_page_equals_what_the_flag_definitions_generate():
  with open(flags_reference.PAGE) as f:
    assert f.read() == flags_reference.render(), "docs/flags.md is stale: run python tools/flags_reference.py"


def test_every_flag_of_the_package_is_on_the_page_once():
  text = flags_reference.render()
  ours = [flag.name for module, defined in flags.FLAGS.flags_by_module_dict().items()
          if module.startswith("cgan_tf") for flag in defined]
  assert len(ours) > 60
  for name in ours:
    assert text.count(f"| `--{name}` |") == 1, name


def test_a_flag_module_without_a_group_is_refused():
  values = flags.FlagValues()
  flags.DEFINE_integer("orphan", 1, "A flag of a module the page does not list.", flag_values=values,
                       module_name="cgan_tf.flags.orphans")
  try:
    flags_reference.render(values)
  except ValueError as e:
    assert "cgan_tf.flags.orphans" in str(e)
  else:
    raise AssertionError("an unlisted flag module was accepted")
