"""Paths on local disk or in an object store, behind one set of functions.

A path is a local path or a URL (``s3://bucket/key``, ``gs://``, ``hf://``,
any scheme fsspec knows). Local paths go through ``os`` exactly as before;
URLs go through the fsspec filesystem of their scheme (s3fs for ``s3://``),
which takes credentials and endpoints from the standard environment
(``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``AWS_PROFILE``, ...).

Object stores have no folders and no rename: a "folder" is a key prefix,
``makedirs`` does nothing there, and an object is written whole or not at all
(:mod:`curate.io.atomic`). Listings are never cached, because Ray workers in
other processes write the objects the driver lists.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO

from curate.errors import StorageError as StorageError

LOCAL_SCHEMES = ("file://",)
BUCKET_SCHEMES = ("s3", "s3a", "gs", "gcs")  # the first path component is a bucket that must exist


def is_remote(path: str | os.PathLike[str]) -> bool:
    """True for a URL with a scheme other than ``file://``."""
    path = os.fspath(path)
    return "://" in path and not path.startswith(LOCAL_SCHEMES)


def _local(path: str | os.PathLike[str]) -> str:
    path = os.fspath(path)
    return path[len("file://"):] if path.startswith("file://") else path


_FILESYSTEMS: dict[tuple[int, str], Any] = {}


def filesystem(path: str) -> tuple[Any, str]:
    """The fsspec filesystem of a URL and the path inside it (no scheme)."""
    import fsspec

    protocol = path.split("://", 1)[0]
    key = (os.getpid(), protocol)
    if key not in _FILESYSTEMS:
        try:
            fs = fsspec.filesystem(protocol, use_listings_cache=False, skip_instance_cache=True,
                                   **_client_options(protocol))
        except ImportError as exc:
            hint = " (pip install 'curate[s3]')" if protocol in ("s3", "s3a") else ""
            raise StorageError(f"{protocol}:// paths need a package that is not installed: {exc}{hint}") from None
        except ValueError as exc:
            raise StorageError(f"{path}: {exc}") from None
        if protocol in ("s3", "s3a"):
            fs.retries = S3FS_TRIES  # an attribute of s3fs's filesystem, not a constructor argument
        _FILESYSTEMS[key] = fs
    fs = _FILESYSTEMS[key]
    return fs, fs._strip_protocol(path)


# Retries of S3 calls. botocore retries each request (standard mode: throttling, 5xx, dropped connections) and
# s3fs retries botocore's whole call again (it also covers a read cut off mid-body, which botocore cannot). Their
# defaults (5 legacy-mode attempts, each of 5 tries) kept an endpoint that drops connections busy for 50
# connections and about 45 seconds before the error; these bounds give up after a few seconds.
S3_ATTEMPTS = 3  # botocore's attempts per request, unless AWS_MAX_ATTEMPTS or AWS_RETRY_MODE says otherwise
S3FS_TRIES = 2  # s3fs's tries of each call


def _client_options(protocol: str) -> dict[str, Any]:
    """Bounded retries for S3 filesystems (see ``S3_ATTEMPTS``)."""
    if protocol not in ("s3", "s3a"):
        return {}
    if os.environ.get("AWS_MAX_ATTEMPTS") or os.environ.get("AWS_RETRY_MODE"):
        return {}
    return {"config_kwargs": {"retries": {"mode": "standard", "total_max_attempts": S3_ATTEMPTS}}}


def absolute(path: str | os.PathLike[str]) -> str:
    """A local path made absolute; URLs as they are (without a trailing slash)."""
    return os.fspath(path).rstrip("/") if is_remote(path) else os.path.abspath(_local(path))


def join(base: str | os.PathLike[str], *names: str) -> str:
    if is_remote(base):
        return "/".join([os.fspath(base).rstrip("/"), *names])
    return os.path.join(base, *names)


def exists(path: str) -> bool:
    if not is_remote(path):
        return os.path.exists(_local(path))
    return _kind(path) is not None


def _kind(path: str, label: str | None = None) -> str | None:
    """``file``, ``directory`` or None (missing) for a URL; fsspec's own isfile/isdir would hide a dead store."""
    fs, inner = filesystem(path)
    try:
        return guarded(label or path, lambda: fs.info(inner)).get("type")
    except FileNotFoundError:
        return None


def isfile(path: str) -> bool:
    if not is_remote(path):
        return os.path.isfile(_local(path))
    return _kind(path) == "file"


def isdir(path: str) -> bool:
    if not is_remote(path):
        return os.path.isdir(_local(path))
    return _kind(path) == "directory"


def listdir(folder: str) -> list[str]:
    """The names directly under ``folder``, sorted; empty when it does not exist."""
    if not is_remote(folder):
        folder = _local(folder)
        return sorted(os.listdir(folder)) if os.path.isdir(folder) else []
    fs, inner = filesystem(folder)
    try:
        entries = guarded(folder, lambda: fs.ls(inner, detail=False))
    except FileNotFoundError:
        return []
    own = inner.rstrip("/")
    return sorted({entry.rstrip("/").rsplit("/", 1)[-1] for entry in entries if entry.rstrip("/") != own})


def files_under(folder: str) -> dict[str, int]:
    """Every file below ``folder`` (recursively): full path -> size."""
    if not is_remote(folder):
        found = {}
        for dirpath, _, filenames in os.walk(_local(folder)):
            for name in filenames:
                path = os.path.join(dirpath, name)
                found[path] = os.path.getsize(path)
        return found
    fs, inner = filesystem(folder)
    listing = guarded(folder, lambda: fs.find(inner, detail=True))
    return {fs.unstrip_protocol(p): int(info.get("size") or 0) for p, info in listing.items()
            if info.get("type") == "file"}


def glob(pattern: str) -> dict[str, int]:
    """Files matching ``pattern`` (``**`` recurses): full path -> size."""
    if not is_remote(pattern):
        import glob as globbing

        return {p: os.path.getsize(p) for p in sorted(globbing.glob(_local(pattern), recursive=True))
                if os.path.isfile(p)}
    fs, inner = filesystem(pattern)
    listing = guarded(pattern, lambda: fs.glob(inner, detail=True))
    return {fs.unstrip_protocol(p): int(info.get("size") or 0) for p, info in listing.items()
            if info.get("type") == "file"}


def size(path: str) -> int:
    if not is_remote(path):
        return os.path.getsize(_local(path))
    fs, inner = filesystem(path)
    return int(guarded(path, lambda: fs.size(inner)))


def stamp(path: str) -> str:
    """What changes when the file's content changes: the local mtime, or the object's ETag (else its mtime)."""
    if not is_remote(path):
        return str(os.stat(_local(path)).st_mtime_ns)
    fs, inner = filesystem(path)
    info = guarded(path, lambda: fs.info(inner))
    for key in ("ETag", "etag", "md5Hash", "blob_id", "last_commit", "LastModified", "mtime", "updated"):
        if info.get(key):
            return str(info[key])
    return str(info.get("size"))


def makedirs(folder: str) -> None:
    """Create a local folder (and its parents); object stores need none."""
    if not is_remote(folder):
        with local_writes(folder):
            os.makedirs(_local(folder), exist_ok=True)


def remove(path: str) -> None:
    """Delete a file if it exists."""
    if not is_remote(path):
        try:
            os.remove(_local(path))
        except FileNotFoundError:
            pass
        return
    fs, inner = filesystem(path)
    try:
        guarded(path, lambda: fs.rm_file(inner))
    except FileNotFoundError:
        pass


def rmtree(folder: str) -> None:
    """Delete a folder (every object under the prefix) if it exists."""
    if not is_remote(folder):
        shutil.rmtree(_local(folder), ignore_errors=True)
        return
    fs, inner = filesystem(folder)
    found = guarded(folder, lambda: fs.find(inner.rstrip("/") + "/"))
    if found:
        guarded(folder, lambda: fs.rm(found))


def open_read(path: str) -> BinaryIO:
    """A binary file open for reading."""
    if not is_remote(path):
        return open(_local(path), "rb")
    fs, inner = filesystem(path)
    return guarded(path, lambda: fs.open(inner, "rb"))


def read_text(path: str) -> str:
    with open_read(path) as handle:
        return handle.read().decode("utf-8")


def guarded(path: str, action: Any) -> Any:
    """Run a store call, turning a store that cannot be reached or refuses access into a StorageError.

    ``FileNotFoundError`` passes through (callers decide what a missing object means).
    """
    try:
        return action()
    except FileNotFoundError:
        raise
    except PermissionError as exc:
        raise StorageError(f"{path}: access denied ({exc}); check the credentials (AWS_ACCESS_KEY_ID, "
                           "AWS_PROFILE, ...)") from None
    except Exception as exc:
        if _is_connection_problem(exc):
            endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
            where = f" at {endpoint}" if endpoint and path.startswith("s3://") else ""
            raise StorageError(f"{path}: cannot reach the object store{where}: {exc}") from None
        raise


def _is_connection_problem(exc: BaseException) -> bool:
    names = {cls.__name__ for cls in type(exc).__mro__}
    return bool(names & {"EndpointConnectionError", "ConnectTimeoutError", "ConnectionError", "ClientConnectorError",
                         "NoCredentialsError", "ServerDisconnectedError", "ConnectionRefusedError",
                         "ClientConnectionError", "ReadTimeoutError", "NoRegionError", "ConnectionClosedError"})


def probe(path: str) -> None:
    """Fail early, with a StorageError, when ``path`` lies in a store that cannot be reached or has no such bucket,
    or is a local folder that cannot be written."""
    if not is_remote(path):
        _probe_local(path)
        return
    fs, inner = filesystem(path)
    if path.split("://", 1)[0] not in BUCKET_SCHEMES:
        _kind(path)
        return
    bucket = inner.split("/", 1)[0]
    if _kind(f"{path.split('://', 1)[0]}://{bucket}", label=path) is None:
        raise StorageError(f"{path}: bucket {bucket!r} not found (or not visible with these credentials)")


def _probe_local(path: str) -> None:
    """The folder, or its nearest existing parent (where it would be created), must be a writable folder."""
    folder = os.path.abspath(_local(path))
    while not os.path.exists(folder) and os.path.dirname(folder) != folder:
        folder = os.path.dirname(folder)
    if not os.path.isdir(folder):
        raise StorageError(f"{path}: cannot create the output folder: {folder} is a file")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise StorageError(f"{path}: cannot write there: permission denied on {folder} "
                           "(make it writable, or choose another --output)")


# Local write failures that the user must fix outside curate, with what to do about each.
_DISK_ERRORS = {
    errno.ENOSPC: "no space left on device (free some space, or choose another --output)",
    errno.EDQUOT: "disk quota exceeded (free some space, or choose another --output)",
    errno.EACCES: "permission denied (make the folder writable, or choose another --output)",
    errno.EPERM: "operation not permitted (make the folder writable, or choose another --output)",
    errno.EROFS: "read-only file system (choose another --output)",
}


def disk_error(path: str, exc: OSError) -> StorageError | None:
    """The StorageError for a local write failure the user must fix (full disk, no permission), else None.

    pyarrow's own I/O errors carry the errno but not the path, so the path is given. Object stores answer
    through :func:`guarded` instead.
    """
    if is_remote(path):
        return None
    code = exc.errno
    if code is None:  # an error re-raised without its errno: read the reason from the text
        code = next((c for c in _DISK_ERRORS if os.strerror(c) in str(exc)), None)
    if code not in _DISK_ERRORS:
        return None
    return StorageError(f"{exc.filename or path}: {_DISK_ERRORS[code]}")


@contextmanager
def local_writes(path: str) -> Iterator[None]:
    """Writing under ``path``: a full disk or a folder without permission becomes one StorageError naming it."""
    try:
        yield
    except OSError as exc:
        error = disk_error(path, exc)
        if error is None:
            raise
        raise error from None


def reset_filesystems() -> None:
    """Forget the filesystems made so far, so the next call reads the environment (endpoint, credentials) anew."""
    _FILESYSTEMS.clear()
