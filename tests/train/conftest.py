"""A small sentiment archive served instead of vaderSentiment's sdist, for text runs."""

import pytest

from chainrule.data import text
from tests.data.archives import tar_gz


@pytest.fixture
def sentiment_archive(tmp_path, monkeypatch):
    """A vaderSentiment-like sdist with 60 rated sentences, served instead of the real one."""
    positive = ["a great fun movie", "i love this movie", "wonderful and great acting", "love it"]
    negative = ["a dull boring movie", "i hate this movie", "awful and dull acting", "hate it"]
    return serve_archive(tmp_path, monkeypatch, [(positive if i % 2 else negative)[(i // 2) % 4] for i in range(60)])


def serve_archive(tmp_path, monkeypatch, sentences):
    """Serve ``sentences`` (negative, positive, negative... rated -2 and 2) as the sentiment sdist."""
    lines = [f"{i}\t{2.0 if i % 2 else -2.0}\t{sentence}" for i, sentence in enumerate(sentences)]
    path = tmp_path / "vader.tar.gz"
    ratings = tar_gz({text._RATINGS_MEMBERS[1]: "\n".join(lines).encode()})
    path.write_bytes(tar_gz({text._RATINGS_MEMBERS[0]: ratings}))
    monkeypatch.setattr(text, "fetch_sdist", lambda name, version, sha256: path)
    return tmp_path
