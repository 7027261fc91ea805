"""Tests for aae_tf.idx: IDX parsing, validation and writing."""

import gzip
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aae_tf import idx
from aae_tf.idx import IdxError, parse_idx, read_idx, write_idx


def _images(n=5):
  return np.arange(n * 28 * 28, dtype=np.uint32).reshape(n, 28, 28).astype(np.uint8)


def _header(code, dims):
  return bytes([0, 0, code, len(dims)]) + np.asarray(dims, ">u4").tobytes()


@pytest.mark.parametrize("name", ["x-idx3-ubyte", "x-idx3-ubyte.gz"])
def test_roundtrip_raw_and_gz(tmp_path, name):
  path = tmp_path / name
  write_idx(path, _images())
  with open(path, "rb") as f:
    assert (f.read(2) == idx.GZIP_MAGIC) == name.endswith(".gz")
  out = read_idx(path)
  np.testing.assert_array_equal(out, _images())
  assert out.dtype == np.uint8 and out.flags.writeable


@pytest.mark.parametrize("dtype",
                         [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_roundtrip_dtypes_native_order(tmp_path, dtype):
  array = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
  write_idx(tmp_path / "a.idx", array)
  out = read_idx(tmp_path / "a.idx")
  np.testing.assert_array_equal(out, array)
  assert out.dtype == np.dtype(dtype) and out.dtype.isnative


def test_known_bytes_big_endian():
  data = _header(0x0B, [2]) + b"\x01\x02\xff\xfe"
  np.testing.assert_array_equal(parse_idx(data, "s"), [258, -2])


def test_gzip_detected_by_content_not_extension(tmp_path):
  write_idx(tmp_path / "a.gz", _images())
  os.rename(tmp_path / "a.gz", tmp_path / "plain-name")
  np.testing.assert_array_equal(read_idx(tmp_path / "plain-name"), _images())
  # And a raw file with a misleading .gz name is read as raw.
  write_idx(tmp_path / "raw", _images())
  os.rename(tmp_path / "raw", tmp_path / "raw.gz")
  np.testing.assert_array_equal(read_idx(tmp_path / "raw.gz"), _images())


def test_wrong_magic(tmp_path):
  path = tmp_path / "bad-idx3-ubyte"
  path.write_bytes(b"\x12\x34\x08\x03" + bytes(100))
  with pytest.raises(IdxError, match=r"bad-idx3-ubyte: not an IDX file: bad magic"):
    read_idx(path)


def test_unknown_type_code():
  with pytest.raises(IdxError, match="bad magic number 0x00000701"):
    parse_idx(_header(0x07, [1]) + b"\x00", "f")


def test_zero_dimensions():
  with pytest.raises(IdxError, match="0 dimensions"):
    parse_idx(b"\x00\x00\x08\x00", "f")


def test_truncated_message_names_file_sizes_and_fix():
  data = _header(0x08, [3, 28, 28]) + bytes(1000)
  with pytest.raises(IdxError) as e:
    parse_idx(data, "train-images-idx3-ubyte.gz")
  msg = str(e.value)
  assert msg.startswith("train-images-idx3-ubyte.gz: truncated")
  assert "3x28x28 = 2352 bytes" in msg and "has 1000" in msg
  assert "--data_dir" in msg


def test_truncated_header():
  with pytest.raises(IdxError, match="truncated: header declares 3 dimensions"):
    parse_idx(b"\x00\x00\x08\x03" + bytes(5), "f")


def test_too_short_for_magic():
  with pytest.raises(IdxError, match="shorter than the 4-byte magic"):
    parse_idx(b"\x00\x00", "f")


def test_trailing_bytes(tmp_path):
  path = tmp_path / "t"
  write_idx(path, _images(2))
  path.write_bytes(path.read_bytes() + b"\x00")
  with pytest.raises(IdxError, match="trailing bytes"):
    read_idx(path)


def test_trailing_bytes_inside_gzip(tmp_path):
  path = tmp_path / "t.gz"
  path.write_bytes(gzip.compress(_header(0x08, [2]) + b"\x01\x02\x03"))
  with pytest.raises(IdxError, match="t.gz: trailing bytes"):
    read_idx(path)


@pytest.mark.parametrize("cut", [5, 20, -9, -1])
def test_corrupt_or_cut_gzip(tmp_path, cut):
  good = gzip.compress(_header(0x08, [3, 28, 28]) + bytes(range(256)) * 10)
  path = tmp_path / "c.gz"
  path.write_bytes(good[:cut])
  with pytest.raises(IdxError, match="c.gz: corrupt gzip"):
    read_idx(path)


def test_gzip_garbage_body():
  with pytest.raises(IdxError, match="corrupt gzip"):
    parse_idx(idx.GZIP_MAGIC + b"\x08\x00garbage" * 10, "g")


def test_missing_file_is_idx_error(tmp_path):
  with pytest.raises(IdxError, match="cannot read"):
    read_idx(tmp_path / "nope")
  with pytest.raises(IdxError, match="cannot read"):
    read_idx(tmp_path)  # A directory.


def test_idx_error_is_value_error():
  assert issubclass(IdxError, ValueError)


def test_empty_dimension_is_valid():
  out = parse_idx(_header(0x08, [0, 28, 28]), "e")
  assert out.shape == (0, 28, 28)


def test_write_idx_rejects_unsupported(tmp_path):
  with pytest.raises(ValueError):
    write_idx(tmp_path / "x", np.zeros(3, np.int64))
  with pytest.raises(ValueError):
    write_idx(tmp_path / "x", np.uint8(3))
  assert not any(tmp_path.iterdir())  # No partial or temp files left.


def test_write_idx_gz_is_reproducible(tmp_path):
  write_idx(tmp_path / "a.gz", _images())
  write_idx(tmp_path / "b.gz", _images())
  assert (tmp_path / "a.gz").read_bytes() == (tmp_path / "b.gz").read_bytes()


def _idx_like():
  """Bytes that are often close to valid IDX, to reach the deep checks."""
  header = st.builds(lambda code, dims: _header(code, dims),
                     st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E, 0x07]),
                     st.lists(st.integers(0, 6), min_size=1, max_size=3))
  near = st.builds(lambda h, body: h + body, header, st.binary(max_size=300))
  return st.one_of(st.binary(max_size=300), near, near.map(gzip.compress),
                   near.map(lambda b: gzip.compress(b)[:-3]),
                   st.binary(max_size=100).map(lambda b: idx.GZIP_MAGIC + b))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_idx_like())
def test_fuzz_parse_idx_returns_array_or_idx_error(data):
  try:
    out = parse_idx(data, "fuzz")
  except IdxError:
    return
  assert isinstance(out, np.ndarray)
