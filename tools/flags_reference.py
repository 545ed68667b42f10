"""Writes docs/flags.md, the reference of every command-line flag, from the flag definitions themselves.

  python tools/flags_reference.py                 # rewrites docs/flags.md
  python tools/flags_reference.py --check         # exits 1 if docs/flags.md differs from the definitions

The page lists the flags by the module that defines them (the groups `--helpfull` shows), each with its
type, default and help text; tests/tools/test_flags_reference.py holds docs/flags.md to this output.
"""

import argparse
import os
import sys

if __package__ in (None, ""):  # Run as `python tools/<name>.py`: the repository root, for cgan_tf and tools.
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import flags  # noqa: E402  pylint: disable=g-import-not-at-top

# Defines every flag (and holds TensorFlow's start-up messages back before importing it).
from cgan_tf import main  # noqa: E402,F401  pylint: disable=g-import-not-at-top

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGE = os.path.join(REPO_ROOT, "docs", "flags.md")
# The groups, in the order a reader meets them; each is a module that defines flags.
GROUPS = (
    ("cgan_tf.main", "The run"),
    ("cgan_tf.flags.data", "Data"),
    ("cgan_tf.flags.networks", "Networks"),
    ("cgan_tf.flags.training", "Training"),
    ("cgan_tf.flags.distribution", "Distribution and precision"),
    ("cgan_tf.flags.outputs", "Outputs and sampling"),
    ("cgan_tf.flags.evaluation", "Evaluation"),
    ("cgan_tf.flags.export", "Export and serving"),
)


def _default(flag) -> str:
  value = flag.default
  if isinstance(value, bool):
    return f"`{str(value).lower()}`"
  if isinstance(value, list):
    return f"`{','.join(value)}`" if value else "(empty)"
  if value is None or value == "":
    return "(empty)"
  return f"`{value}`"


def _cell(text: str) -> str:
  return " ".join(str(text).split()).replace("|", "\\|")


def render(flag_values=flags.FLAGS) -> str:
  """The whole page, from the defined flags.

  Raises:
    ValueError: if a module of the package defines flags that no group lists.
  """
  by_module = flag_values.flags_by_module_dict()
  listed = {module for module, _ in GROUPS}
  unlisted = sorted(module for module in by_module if module.startswith("cgan_tf") and module not in listed)
  if unlisted:
    raise ValueError(f"flags defined in {', '.join(unlisted)} belong in a group of tools/flags_reference.py")
  lines = ["# Flags", "",
           "Every flag of `python -m cgan_tf.main`, by the module that defines it. Generated from the flag "
           "definitions by `python tools/flags_reference.py`; do not edit by hand. A bad value stops the "
           "run before anything is written, with a message that names the flag and what it allows.", ""]
  for module, title in GROUPS:
    lines += [f"## {title}", "", f"Defined in `{module.replace('.', '/')}.py`.", "",
              "| flag | type | default | meaning |", "|---|---|---|---|"]
    for flag in sorted(by_module.get(module, []), key=lambda f: f.name):
      kind, text = flag.flag_type(), flag.help
      if getattr(flag.parser, "enum_values", None):
        kind = "one of " + ", ".join(f"`{value}`" for value in flag.parser.enum_values)
        text = text.split(">: ", 1)[-1] if text.startswith("<") else text  # absl's own list of the choices.
      lines.append(f"| `--{flag.name}` | {_cell(kind)} | {_default(flag)} | {_cell(text)} |")
    lines.append("")
  return "\n".join(lines)


def main_entry(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--check", action="store_true", help="exit 1 if docs/flags.md is out of date")
  args = parser.parse_args(argv)
  text = render()
  if args.check:
    with open(PAGE) as f:
      if f.read() != text:
        print(f"{PAGE} is out of date: run python tools/flags_reference.py", file=sys.stderr)
        return 1
    return 0
  with open(PAGE, "w") as f:
    f.write(text)
  print(f"wrote {PAGE}")
  return 0


if __name__ == "__main__":
  sys.exit(main_entry())
