"""Small tar.gz and zip archives built in memory, for tests of registry fetches and data sets."""

import io
import tarfile
import zipfile


def tar_gz(members):
    """The bytes of a gzipped tar holding ``members`` (names to bytes)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def zip_bytes(members):
    """The bytes of a zip (or wheel) holding ``members``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()
