"""Downloading a published checkpoint into torch's hub cache, safely.

The file goes to ``torch.hub.get_dir()/checkpoints/<filename>`` (where torchvision and
timm put theirs), written first as ``<filename>.part``: a download that stops is resumed
with an HTTP Range request (or restarted where the server ignores ranges), its length is
checked against the server's, its sha256 against the published one (a whole hash, or, with
``hash_in_name``, the prefix torch.hub's naming puts in the file name:
``r2plus1d_18-91a641e6.pth``) or, where
the source publishes none, against the one recorded on the first download
(``checkpoints/vbench_sha256.json``), and only then is it renamed into place. Every
failure is one line naming the URL and the way round (``--checkpoint PATH``) and leaves
no partial or corrupt file behind; only a download interrupted by the user keeps its
``.part`` for the next try. ``file://`` URLs are copied the same way (tests, mirrors).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import urllib.error
import urllib.request
from collections.abc import Callable
from http.client import HTTPException
from pathlib import Path

from vbench.errors import CheckpointError

RECORD_NAME = "vbench_sha256.json"
_CHUNK = 1 << 20
_ATTEMPTS = 3  # a connection that drops is resumed this many times before giving up
_HASH_IN_NAME = re.compile(r"-([a-f0-9]{8,64})\.")  # torch.hub's convention: name-<sha256 prefix>.pth

Progress = Callable[[int, int | None], None]


class DownloadError(CheckpointError):
    """A checkpoint that could not be downloaded or does not match its checksum."""


def cache_dir() -> Path:
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def recorded_sha256(filename: str, folder: Path | None = None) -> str | None:
    path = (folder or cache_dir()) / RECORD_NAME
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text()).get(filename)
    except (OSError, ValueError):
        return None


def _record_sha256(filename: str, sha: str, folder: Path) -> None:
    path = folder / RECORD_NAME
    try:
        known = json.loads(path.read_text()) if path.is_file() else {}
    except ValueError:
        known = {}
    known[filename] = sha
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(known, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)


def fetch_checkpoint(url: str, filename: str, *, sha256: str | None = None, folder: Path | None = None,
                     on_progress: Progress | None = None, hash_in_name: bool = False) -> Path:
    """The cached file for ``url``, downloaded first if needed; its sha256 checked."""
    folder = folder or cache_dir()
    target = folder / filename
    expected = sha256 or recorded_sha256(filename, folder)
    if target.is_file():
        if expected and sha256_of(target) != expected:
            raise DownloadError(f"the cached {target} does not match its sha256 {expected[:16]}...: delete it to "
                                f"download it again from {url}")
        return target
    folder.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    try:
        _download(url, part, on_progress)
        got = sha256_of(part)
        named = _HASH_IN_NAME.search(filename) if hash_in_name else None
        if not expected and named and not got.startswith(named[1]):
            expected = named[1]  # the name's prefix is the published hash: report the mismatch below
        if expected and not got.startswith(expected):
            part.unlink()
            raise DownloadError(f"checksum mismatch for {url}: sha256 {got[:16]}... where {expected[:16]}... was "
                                f"expected; the file was deleted (download it again, or pass --checkpoint PATH)")
        os.replace(part, target)
    except KeyboardInterrupt:
        raise  # the .part stays, to be resumed
    except DownloadError:
        part.unlink(missing_ok=True)
        raise
    if not (sha256 or recorded_sha256(filename, folder)):
        _record_sha256(filename, got, folder)
    return target


def _download(url: str, part: Path, on_progress: Progress | None) -> None:
    """Fill ``part`` with the body of ``url``, resuming a partial file; raises DownloadError."""
    if url.startswith("file://"):
        return _copy_file(url, part, on_progress)
    for attempt in range(_ATTEMPTS):
        have = part.stat().st_size if part.exists() else 0
        request = urllib.request.Request(url, headers={"User-Agent": "vbench"})
        if have:
            request.add_header("Range", f"bytes={have}-")
        try:
            response = urllib.request.urlopen(request, timeout=30)
        except urllib.error.HTTPError as error:
            if error.code == 416 and have:  # the range starts at the end: the part is the whole file
                return
            raise DownloadError(f"cannot download {url}: HTTP {error.code} {error.reason}. Download it by hand "
                                f"and pass --checkpoint PATH") from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise DownloadError(f"cannot download {url}: {reason} (offline?). Download it by hand and pass "
                                f"--checkpoint PATH") from None
        with response:
            resumed = have and response.status == 206
            if not resumed:
                have = 0
            length = response.headers.get("Content-Length")
            total = have + int(length) if length is not None else None
            try:
                with open(part, "ab" if resumed else "wb") as handle:
                    done = have
                    while chunk := response.read(_CHUNK):
                        handle.write(chunk)
                        done += len(chunk)
                        if on_progress:
                            on_progress(done, total)
            except (HTTPException, OSError):
                pass  # the connection dropped: resume below
        size = part.stat().st_size
        if total is None or size == total:
            return
        if size > total:
            break
    raise DownloadError(f"truncated download of {url}: {part.stat().st_size} of {total} bytes after {_ATTEMPTS} "
                        f"tries; the partial file was deleted (try again, or pass --checkpoint PATH)")


def _copy_file(url: str, part: Path, on_progress: Progress | None) -> None:
    source = Path(urllib.request.url2pathname(url[len("file://"):]))
    if not source.is_file():
        raise DownloadError(f"cannot download {url}: no such file. Pass --checkpoint PATH instead")
    total = source.stat().st_size
    with open(source, "rb") as src, open(part, "wb") as dst:
        shutil.copyfileobj(src, dst, _CHUNK)
    if on_progress:
        on_progress(total, total)
