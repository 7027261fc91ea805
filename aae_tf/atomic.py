"""Write-then-rename: a reader (TensorBoard, TF Serving, a crash-resumed run) never sees
a half-written file, and an interrupted write leaves the previous content in place."""

import os
import uuid
from typing import Callable


def write_with(path: str, write: Callable[[str], None]) -> str:
  """Calls `write(tmp)` on a unique sibling of `path`, then renames it onto `path`.

  The sibling keeps `path`'s extension (image writers pick the format from it) and is
  removed if the write fails. Returns `path`.
  """
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  stem, extension = os.path.splitext(os.path.basename(path))
  tmp = os.path.join(directory, f".{stem}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}{extension}")
  try:
    write(tmp)
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise
  return path


def write_bytes(path: str, content: bytes) -> str:
  def write(tmp):
    # open() with "xb" honours the umask (mkstemp would make the file private).
    with open(tmp, "xb") as f:
      f.write(content)
  return write_with(path, write)


def write_text(path: str, text: str) -> str:
  return write_bytes(path, text.encode("utf-8"))
