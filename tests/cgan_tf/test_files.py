"""cgan_tf/files.py: atomic writes leave the old file or the new one, and no temporary behind."""

import json
import os

import pytest

from cgan_tf import files


@pytest.mark.parametrize("data", ["text", b"\x89PNG bytes"], ids=["str", "bytes"])
def test_write_atomically_replaces_the_file_and_leaves_nothing_else(tmp_path, data):
  path = str(tmp_path / "out.bin")
  files.write_atomically(path, "old")
  files.write_atomically(path, data)
  with open(path, "rb") as f:
    assert f.read() == (data if isinstance(data, bytes) else data.encode())
  assert os.listdir(tmp_path) == ["out.bin"]


def test_a_failed_write_keeps_the_old_file(tmp_path):
  path = str(tmp_path / "config.json")
  files.write_json_atomically(path, {"step": 1})
  with pytest.raises(RuntimeError):
    with files.atomic_path(path) as tmp:
      with open(tmp, "w") as f:
        f.write('{"step": 2, "trunc')
      raise RuntimeError("crash while writing")
  with open(path) as f:
    assert json.load(f) == {"step": 1}


def test_temporary_paths_are_hidden_unique_and_keep_the_extension(tmp_path):
  path = str(tmp_path / "classifier.keras")
  first, second = files.temporary_path(path), files.temporary_path(path)
  assert first != second
  for tmp in (first, second):
    assert os.path.dirname(tmp) == str(tmp_path)
    assert os.path.basename(tmp).startswith(".tmp-") and tmp.endswith("classifier.keras")


@pytest.mark.parametrize("content,repaired,message", [
    (b'{"step": 1}\n{"step": 2, "fig', b'{"step": 1}\n', "dropped its last line, cut short by an interrupted write "
                                                         "(16 bytes: '{\"step\": 2, \"fig')"),
    (b'{"step": 1}\n{"step": 2}', b'{"step": 1}\n{"step": 2}\n', "its last record lacked the newline"),
    (b'{"st', b"", "dropped its last line"),
    (b'{"step": 1}\n', b'{"step": 1}\n', None),
    (b"", b"", None),
], ids=["cut record", "newline missing", "only a cut line", "whole", "empty"])
def test_a_cut_last_line_of_json_lines_is_mended(tmp_path, content, repaired, message):
  path = str(tmp_path / "metrics.jsonl")
  with open(path, "wb") as f:
    f.write(content)
  said = files.repair_jsonl(path)
  assert (said is None) if message is None else said.startswith(message), said
  with open(path, "rb") as f:
    assert f.read() == repaired
  assert files.repair_jsonl(path) is None  # Appending to it now gives whole lines.
  assert files.repair_jsonl(str(tmp_path / "absent.jsonl")) is None
