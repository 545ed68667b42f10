"""What a published artifact (an export's metadata, an evaluation report) must not carry: local paths."""

import os


def local_paths(value, *roots: str) -> list:
  """Every string in the JSON-like `value` that names a path of this machine: an absolute path, the home
  directory, or one under any of `roots` (the test's temporary directories)."""
  home = os.path.expanduser("~")
  found = []

  def visit(item):
    if isinstance(item, dict):
      for key, child in item.items():
        visit(key)
        visit(child)
    elif isinstance(item, (list, tuple)):
      for child in item:
        visit(child)
    elif isinstance(item, str):
      if os.path.isabs(item) or home in item or any(str(root) in item for root in roots):
        found.append(item)

  visit(value)
  return found
