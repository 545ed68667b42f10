"""tools/benchmark.py: the dispatcher's subcommands, and every command the documents quote parses as written."""

import os
import re
import shlex

import pytest

from tools import benchmark
from tools.benchmarks import common
from tools.benchmarks import layers
from tools.benchmarks import variants

# The documents that quote `python tools/benchmark.py ...` commands, relative to the repository root.
DOCUMENTS = ("README.md", *sorted(os.path.join("docs", name) for name in os.listdir(
    os.path.join(common.REPO_ROOT, "docs")) if name.endswith(".md")),
             *sorted(os.path.join("configs", name) for name in os.listdir(
                 os.path.join(common.REPO_ROOT, "configs")) if name.endswith(".cfg")))
# Options whose values are files of this repository.
PATH_OPTIONS = ("flagfile", "from_jsonl")


def quoted_commands():
  """(document, argv) of every `python tools/benchmark.py ...` code span, joined across line breaks (and
  the comment marks of a preset's header)."""
  found = []
  for document in DOCUMENTS:
    with open(os.path.join(common.REPO_ROOT, document)) as f:
      text = re.sub(r"\s*\n\s*(#\s*)?", " ", f.read())
    found += [(document, shlex.split(arguments))
              for arguments in re.findall(r"`python tools/benchmark\.py((?: [^`]*)?)`", text)]
  return found


COMMANDS = quoted_commands()


def test_the_documents_quote_commands_of_most_subcommands():
  subcommands = {benchmark.subcommand_argv(argv)[0] for _, argv in COMMANDS}
  assert len(COMMANDS) >= 15 and len(subcommands) >= 8, COMMANDS


@pytest.mark.parametrize("document, argv", COMMANDS, ids=[f"{d}:{' '.join(a)}" for d, a in COMMANDS])
def test_a_quoted_command_parses_and_names_files_that_exist(document, argv):
  args = benchmark.build_parser().parse_args(benchmark.subcommand_argv(argv))
  for option in PATH_OPTIONS:
    values = getattr(args, option, None) or []
    for path in [values] if isinstance(values, str) else values:
      assert os.path.isfile(os.path.join(common.REPO_ROOT, path)), f"{document}: --{option}={path} does not exist"
  # The lists a run checks against its module's table.
  if args.subcommand == "variants":
    assert set(args.variants.split(",")) <= set(variants.VARIANTS)
  if args.subcommand == "layers":
    assert set(args.modes.split(",")) <= set(layers.LAYER_MODES)


def test_each_measurement_module_is_a_subcommand_and_variants_is_the_default():
  parser = benchmark.build_parser()
  for name, module in zip(benchmark.SUBCOMMANDS, benchmark.MEASUREMENTS):
    assert module.__name__ == f"tools.benchmarks.{name}"
    assert parser.parse_args([name, "--quick"]).run is module.run
  assert benchmark.subcommand_argv([]) == ["variants"]
  assert benchmark.subcommand_argv(["--quick"]) == ["variants", "--quick"]
  assert benchmark.subcommand_argv(["layers", "--quick"]) == ["layers", "--quick"]
