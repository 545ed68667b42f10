"""The docs cannot drift from the code: every command they give parses with the real flag definitions, and
every test id, file path, link, anchor and flag they cite exists."""

import glob
import os
import re
import shlex

from absl import flags
import pytest

from cgan_tf import main
from cgan_tf.config import ConfigError
from tests.helpers.data import REPO_ROOT

FLAGS = flags.FLAGS
DOCS = sorted(["README.md"] + [os.path.relpath(path, REPO_ROOT)
                               for path in glob.glob(os.path.join(REPO_ROOT, "docs", "*.md"))])
# Programs whose own flags the docs give (docker, curl, ...); their flags are not cgan_tf's to check.
OTHER_PROGRAMS = ("docker", "curl", "pip", "python3", "sudo", "apt-get", "git", "tensorboard", "saved_model_cli",
                  "jq", "base64", "TF_CONFIG", "W=")
# Flags of programs the prose names beside cgan_tf's (pytest's, pip's, docker's, saved_model_cli's).
OTHER_FLAGS = {"--collect-only", "--durations", "--dir", "--tag_set", "--signature_def", "--input_exprs",
               "--rm", "--mount", "--logdir", "--helpfull", "--only_check_args", "--flagfile",
               # XLA's own, set through XLA_FLAGS.
               "--xla_cpu_use_onednn", "--xla_cpu_experimental_onednn_custom_call"}


def read(doc: str) -> str:
  with open(os.path.join(REPO_ROOT, doc)) as f:
    return f.read()


def code_lines(text: str) -> list:
  """The lines of the fenced code blocks and of the four-space-indented blocks, continuations joined."""
  lines, inside = [], False
  for line in text.splitlines():
    if line.lstrip().startswith("```"):
      inside = not inside
      continue
    if inside or line.startswith("    "):
      lines.append(line.strip())
  joined = []
  for line in lines:
    if joined and joined[-1].endswith("\\"):
      joined[-1] = joined[-1][:-1] + " " + line
    else:
      joined.append(line)
  return joined


def main_commands(text: str) -> list:
  """Every `python -m cgan_tf.main ...` command line, as its arguments after the program."""
  commands = []
  for line in code_lines(text):
    if "cgan_tf.main" not in line:
      continue
    line = line.split(" &")[0]
    words = shlex.split(line, comments=True)
    start = words.index("cgan_tf.main") + 1
    commands.append(words[start:])
  return commands


def all_commands():
  return [(doc, " ".join(args)) for doc in DOCS for args in main_commands(read(doc))]


def test_the_docs_give_commands_at_all():
  commands = all_commands()
  assert len(commands) > 30
  assert any("--mode=export" in args for _, args in commands)


@pytest.mark.parametrize("doc,command", all_commands())
def test_every_command_in_the_docs_parses_and_validates_with_the_real_flags(doc, command):
  argv = main.resolve_presets(["cgan_tf", *shlex.split(command)])
  FLAGS.unparse_flags()
  try:
    FLAGS(argv)  # An unknown flag or a bad value of a flag's type raises here.
    config = main.config_from_flags()  # Every value checked, as the command would check it.
    assert config.mode in main.MODES
  except (flags.Error, ConfigError) as e:
    pytest.fail(f"{doc}: `python -m cgan_tf.main {command}`: {e}")
  finally:
    FLAGS.unparse_flags()


def cited_test_ids(text: str) -> list:
  """Test files and test ids the text cites: tests/<path>.py[::name], or a bare test_<name>.py[::name]
  (a table that says its ids are under tests/)."""
  return re.findall(r"(?<![\w/])((?:tests/[\w/]+|test_\w+)\.py(?:::\w+)?)", text)


def cited_file(path: str) -> str:
  """The test file a citation names: its path, or the one file of that name under tests/."""
  if path.startswith("tests/"):
    return os.path.join(REPO_ROOT, path)
  found = glob.glob(os.path.join(REPO_ROOT, "tests", "**", path), recursive=True)
  return found[0] if len(found) == 1 else os.path.join(REPO_ROOT, "tests", path)


@pytest.mark.parametrize("doc", DOCS)
def test_every_test_the_docs_cite_exists(doc):
  for cited in cited_test_ids(read(doc)):
    path, _, name = cited.partition("::")
    full = cited_file(path)
    assert os.path.isfile(full), f"{doc} cites {path}, which does not exist (or is not one file under tests/)"
    if name:
      with open(full) as f:
        assert re.search(rf"^def {name}\(", f.read(), re.M), f"{doc} cites {cited}, which {path} does not define"


def cited_paths(text: str) -> list:
  """Repository paths the text names in backticks or as bare words: cgan_tf/..., configs/..., tools/...,
  docs/..., pretrained/... (placeholders such as <run_dir> left out)."""
  found = re.findall(r"(?<![\w/.<])((?:cgan_tf|configs|tools|docs|pretrained|tests)/[\w./-]*[\w])", text)
  return [path for path in found if "<" not in path and "*" not in path]


@pytest.mark.parametrize("doc", DOCS)
def test_every_repository_path_the_docs_name_exists(doc):
  missing = sorted({path for path in cited_paths(read(doc))
                    if not os.path.exists(os.path.join(REPO_ROOT, path))
                    and not os.path.exists(os.path.join(REPO_ROOT, path.split("::")[0]))})
  assert not missing, f"{doc} names paths that do not exist: {missing}"


def anchors(doc: str) -> set:
  """The anchors of a Markdown file's headings, as GitHub makes them."""
  result = set()
  for line in read(doc).splitlines():
    match = re.match(r"^#+ (.*)$", line)
    if match:
      title = re.sub(r"[^\w\- ]", "", match.group(1).strip().lower().replace("`", ""))
      result.add(title.replace(" ", "-"))
  return result


@pytest.mark.parametrize("doc", DOCS)
def test_every_link_and_image_of_the_docs_reaches_a_file_and_heading(doc):
  # Links are Markdown outside code: a code block's `f(x)(y)` is no link.
  text = re.sub(r"`[^`]*`", "", re.sub(r"```.*?```", "", read(doc), flags=re.S))
  problems = []
  for target in re.findall(r"\]\(([^)\s]+)\)", text):
    if re.match(r"^[a-z]+://", target):
      continue
    path, _, anchor = target.partition("#")
    resolved = os.path.normpath(os.path.join(os.path.dirname(doc), path)) if path else doc
    if not os.path.exists(os.path.join(REPO_ROOT, resolved)):
      problems.append(f"{target}: no {resolved}")
    elif anchor and resolved.endswith(".md") and anchor not in anchors(resolved):
      problems.append(f"{target}: {resolved} has no heading #{anchor}")
  assert not problems, f"{doc}: {problems}"


def defined_flags() -> set:
  names = set()
  for module, defined in FLAGS.flags_by_module_dict().items():
    if module.startswith("cgan_tf"):
      for flag in defined:
        names.add(f"--{flag.name}")
        if flag.flag_type() == "bool":
          names.add(f"--no{flag.name}")
  return names


def tool_flags() -> set:
  """The flags the tools' own argument parsers define (the string literals "--x" in tools/)."""
  names = set()
  for path in glob.glob(os.path.join(REPO_ROOT, "tools", "**", "*.py"), recursive=True):
    with open(path) as f:
      names.update(re.findall(r"[\"'](--[a-z][\w-]*)[\"']", f.read()))
  return names


@pytest.mark.parametrize("doc", DOCS)
def test_every_flag_the_docs_name_is_defined(doc):
  known = defined_flags() | tool_flags() | OTHER_FLAGS
  text = read(doc)
  unknown = set()
  for line in code_lines(text):
    program = line.split(" ")[0] if line else ""
    if program.startswith(OTHER_PROGRAMS) or line.startswith(("-", "|", "{")):
      continue
    unknown.update(name for name in re.findall(r"(?<![\w-])(--[a-z][\w]*)", line) if name not in known)
  prose = re.sub(r"```.*?```", "", text, flags=re.S)
  unknown.update(name for name in re.findall(r"`(--[a-z][\w]*)", prose) if name not in known)
  assert not unknown, f"{doc} names flags nothing defines: {sorted(unknown)}"


def test_the_readme_is_the_front_door_not_the_record():
  text = read("README.md")
  assert len(text.splitlines()) <= 250
  headings = [line for line in text.splitlines() if line.startswith("## ")]
  assert headings[:4] == ["## Install", "## Quick start", "## Presets", "## Results"]
  for path in ("(a) The recommended preset", "(b) Your own images", "(c) N GPUs, or several machines", "(d) Serving"):
    assert f"### {path}" in text


def test_docs_cite_no_issue_tracker_and_no_development_log():
  for doc in DOCS:
    text = read(doc)
    for phrase in ("PITFALLS", "this round", "previous recipe", "where this was built", "load average"):
      assert phrase not in text, f"{doc}: {phrase!r}"


def test_the_readme_results_are_the_published_report():
  import json  # pylint: disable=g-import-not-at-top
  report = json.loads(read("pretrained/fashion_mnist/eval_report.json"))
  row = next(line for line in read("README.md").splitlines() if line.startswith("| generator |"))
  floor = next(line for line in read("README.md").splitlines() if line.startswith("| real train images |"))
  names = ["conditional_accuracy", "frechet_distance", "intra_frechet_distance", "precision", "recall", "cas"]
  for line, figures in ((row, report["generated"]), (floor, report["real_train"])):
    cells = [float(cell) for cell in line.strip("|").split("|")[1:]]
    for name, cell in zip(names, cells):
      digits = len(str(cell).split(".")[1])
      assert round(figures[name], digits) == cell, f"README {name}: {cell}, report {figures[name]}"


def test_a_command_with_a_bad_value_fails_the_way_the_commands_are_checked():
  # The command test can fail: config_from_flags validates what the flags parsed to.
  FLAGS.unparse_flags()
  try:
    FLAGS(["cgan_tf", "--run_dir=/tmp/x", "--batch_size=0"])
    with pytest.raises(ConfigError, match="--batch_size"):
      main.config_from_flags()
  finally:
    FLAGS.unparse_flags()
