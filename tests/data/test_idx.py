"""IDX reading and writing."""

import gzip
import struct

import numpy as np
import pytest

from chainrule.data import read_idx, write_idx
from chainrule.errors import DataError


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("name", ["array.idx", "array.idx.gz"])
def test_round_trip(tmp_path, dtype, name):
    array = (np.arange(24) - 5).reshape(2, 3, 4).astype(dtype)
    write_idx(tmp_path / name, array)
    loaded = read_idx(tmp_path / name)
    assert loaded.dtype == dtype and loaded.dtype.isnative
    np.testing.assert_array_equal(loaded, array)


def test_gzip_is_detected_by_content_not_name(tmp_path):
    write_idx(tmp_path / "labels.gz", np.array([3, 1, 4], dtype=np.uint8))
    (tmp_path / "labels").write_bytes((tmp_path / "labels.gz").read_bytes())
    np.testing.assert_array_equal(read_idx(tmp_path / "labels"), [3, 1, 4])


def test_header_layout_matches_the_mnist_format(tmp_path):
    write_idx(tmp_path / "images", np.zeros((5, 28, 28), dtype=np.uint8))
    content = (tmp_path / "images").read_bytes()
    assert content[:4] == bytes([0, 0, 0x08, 3])
    assert struct.unpack(">3I", content[4:16]) == (5, 28, 28)
    assert len(content) == 16 + 5 * 28 * 28


def test_multibyte_values_are_big_endian(tmp_path):
    write_idx(tmp_path / "ints", np.array([1], dtype=np.int32))
    assert (tmp_path / "ints").read_bytes()[-4:] == b"\x00\x00\x00\x01"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x00\x00", "too short for an IDX header"),
        (b"\x01\x00\x08\x01" + struct.pack(">I", 1) + b"\x00", "bad magic number 0x01000801"),
        (b"\x00\x00\x07\x01" + struct.pack(">I", 1) + b"\x00", "unknown IDX dtype code 0x07"),
        (b"\x00\x00\x08\x00", "0 dimensions"),
        (b"\x00\x00\x08\x02" + struct.pack(">I", 3), "truncated header"),
        (
            b"\x00\x00\x08\x01" + struct.pack(">I", 4) + b"\x01\x02",
            "truncated, shape \\(4,\\) of uint8 needs 4",
        ),
        (b"\x00\x00\x0c\x01" + struct.pack(">I", 1) + b"\x00" * 5, "trailing bytes"),
    ],
)
def test_corrupt_files_name_the_file_and_the_problem(tmp_path, content, message):
    path = tmp_path / "broken-idx1-ubyte"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message) as raised:
        read_idx(path)
    assert str(path) in str(raised.value)


def test_truncated_gzip_is_a_data_error(tmp_path):
    path = tmp_path / "cut.gz"
    path.write_bytes(gzip.compress(b"\x00\x00\x08\x01" + struct.pack(">I", 100) + bytes(100))[:-12])
    with pytest.raises(DataError, match="corrupt gzip data") as raised:
        read_idx(path)
    assert str(path) in str(raised.value)


def test_write_rejects_unsupported_arrays(tmp_path):
    with pytest.raises(DataError, match="cannot store dtype int64"):
        write_idx(tmp_path / "x", np.zeros(3, dtype=np.int64))
    with pytest.raises(DataError, match="1 to 255 dimensions"):
        write_idx(tmp_path / "x", np.uint8(3))
