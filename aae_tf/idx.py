"""Reading and writing IDX files (the format of MNIST and Fashion-MNIST).

An IDX file is a 4-byte magic number ``00 00 <type code> <ndim>``, then
``ndim`` big-endian uint32 dimension sizes, then the row-major payload in
big-endian order. The files are often gzipped; gzip is detected from its magic
bytes rather than from the file name, because downloads get renamed.

Every problem with a file (unreadable, corrupt gzip, bad magic, wrong length)
is reported as :class:`IdxError`, a ``ValueError`` whose message names the
file, the problem and how to fix it.
"""

from __future__ import annotations

import gzip
import os
import zlib

import numpy as np

from aae_tf import atomic

GZIP_MAGIC = b"\x1f\x8b"

# Standard IDX type codes -> big-endian numpy dtypes.
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODE_BY_KIND = {(dt.kind, dt.itemsize): code for code, dt in IDX_DTYPES.items()}

_FIX = "re-download the file or point --data_dir at a complete copy"


class IdxError(ValueError):
  """An IDX file is missing, unreadable, corrupt or malformed."""


def parse_idx(data: bytes, name: str) -> np.ndarray:
  """Parses the bytes of an IDX file (gzipped or not) into an array.

  Args:
    data: The file content. Gzip is detected by its magic bytes.
    name: File name used in error messages.

  Returns:
    A writable array in native byte order with the shape from the header.

  Raises:
    IdxError: If the gzip stream is corrupt, the magic number or type code is
      wrong, or the payload length does not match the header exactly.
  """
  data = bytes(data)
  if data[:2] == GZIP_MAGIC:
    data = _gunzip(data, name)
  dtype, dims, offset = _parse_header(data, name)
  expected = int(np.prod(dims, dtype=object)) * dtype.itemsize
  actual = len(data) - offset
  if actual != expected:
    problem = "truncated" if actual < expected else "trailing bytes"
    shape = "x".join(str(d) for d in dims)
    raise IdxError(f"{name}: {problem}: header says {shape} = {expected} bytes of "
                   f"data, file has {actual} after the {offset}-byte header — {_FIX}")
  array = np.frombuffer(data, dtype=dtype, count=expected // dtype.itemsize,
                        offset=offset).reshape(dims)
  # astype copies: the result is writable and in native byte order.
  return array.astype(dtype.newbyteorder("="))


def read_idx(path: str | os.PathLike) -> np.ndarray:
  """Reads an IDX file, raw or gzipped (detected by content).

  Args:
    path: Path of the file.

  Returns:
    The parsed array (see :func:`parse_idx`).

  Raises:
    IdxError: If the file cannot be read or is not a valid IDX file.
  """
  path = os.fspath(path)
  return parse_idx(read_payload(path), path)


def read_payload(path: str | os.PathLike) -> bytes:
  """Returns the content of a file, gunzipped if it is gzip data.

  Useful for checksumming the IDX payload independently of how (or whether)
  it was compressed.

  Args:
    path: Path of the file.

  Returns:
    The uncompressed bytes (not validated as IDX).

  Raises:
    IdxError: If the file cannot be read or its gzip data is corrupt.
  """
  path = os.fspath(path)
  try:
    with open(path, "rb") as f:
      data = f.read()
  except OSError as e:
    raise IdxError(f"{path}: cannot read: {e.strerror or e} — check the "
                   "path, or point --data_dir at a directory holding "
                   "the IDX files") from e
  return _gunzip(data, path) if data[:2] == GZIP_MAGIC else data


def write_idx(path: str | os.PathLike, array: np.ndarray, compresslevel: int = 1) -> None:
  """Writes an array as an IDX file, gzipped if ``path`` ends with ``.gz``.

  The file is written to a temporary name and renamed, so readers never see
  a half-written file.

  Args:
    path: Destination path.
    array: Array of dtype uint8, int8, int16, int32, float32 or float64 with
      at least one dimension.
    compresslevel: Gzip level. 1 by default: level 9 takes ~13 s for the
      MNIST training images and saves only ~12% space.

  Raises:
    ValueError: If the dtype or shape cannot be stored in IDX.
  """
  path = os.fspath(path)
  array = np.asarray(array)
  code = _CODE_BY_KIND.get((array.dtype.kind, array.dtype.itemsize))
  if code is None or array.ndim == 0 or array.ndim > 255:
    raise ValueError(f"cannot store dtype {array.dtype} with shape "
                     f"{array.shape} as IDX")
  header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
  content = header + np.ascontiguousarray(array, IDX_DTYPES[code]).tobytes()
  if path.endswith(".gz"):
    # mtime=0 makes the output reproducible byte for byte.
    content = gzip.compress(content, compresslevel=compresslevel, mtime=0)
  atomic.write_bytes(path, content)


def _gunzip(data: bytes, name: str) -> bytes:
  """Decompresses gzip data, turning every failure into IdxError."""
  try:
    return gzip.decompress(data)
  except (OSError, EOFError, zlib.error) as e:
    raise IdxError(f"{name}: corrupt gzip data ({e}) — {_FIX}") from e


def _parse_header(data: bytes, name: str):
  """Returns (big-endian dtype, dims, payload offset) from an IDX header."""
  if len(data) < 4:
    raise IdxError(f"{name}: not an IDX file: only {len(data)} bytes, "
                   f"shorter than the 4-byte magic number — {_FIX}")
  zero1, zero2, code, ndim = data[:4]
  if zero1 or zero2 or code not in IDX_DTYPES:
    raise IdxError(f"{name}: not an IDX file: bad magic number 0x{data[:4].hex()} "
                   "(expected 0x0000 followed by a type code such as 08 for unsigned "
                   f"bytes and the number of dimensions) — {_FIX}")
  if ndim == 0:
    raise IdxError(f"{name}: IDX header declares 0 dimensions — {_FIX}")
  offset = 4 + 4 * ndim
  if len(data) < offset:
    raise IdxError(f"{name}: truncated: header declares {ndim} dimensions "
                   f"({offset} header bytes), file has {len(data)} bytes "
                   f"— {_FIX}")
  dims = tuple(int(d) for d in np.frombuffer(data, ">u4", ndim, 4))
  return IDX_DTYPES[code], dims, offset
