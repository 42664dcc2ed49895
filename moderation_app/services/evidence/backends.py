"""Where evidence files live: a local folder (the embedded default, UPLOAD_DIR) or an S3-compatible
bucket (EVIDENCE_STORAGE=s3://bucket/prefix). Both take only names the app chose
(``check_name``), never overwrite a name, and answer the same few calls, so the upload pipeline
(storage.py), garbage collection (gc.py), the migration to S3 (migrate.py) and the download view
never know which one they have.

Prepared audit exports live in the same store under a folder (prefix) of their own, ``exports/``,
with names of their own (``EXPORT_NAMES``): a backend is built for one kind of name, so the
evidence backend never lists, serves or collects an export, and the reverse.

A backend that cannot be reached raises ``StorageUnavailable``: the upload that needed it is
refused with a clear message, and whatever it had written is removed (or left to ``evidence gc``).
"""

from __future__ import annotations

import errno
import hashlib
import io
import logging
import os
import re
import shutil
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Protocol
from urllib.parse import urlsplit

logger = logging.getLogger(__name__)

# Every name we write: 128 random bits in hex, then our own extension. Nothing else is a valid name.
# ``.upload`` is a large upload held as received until a job re-encodes it (processing.py): raw
# bytes, so no view serves it (downloads go through Evidence rows, which never name one).
_STORED_NAME = re.compile(r"[0-9a-f]{32}(?:\.png|\.jpg|\.thumb\.jpg|\.upload)")
EVIDENCE_NAMES = _STORED_NAME
# A prepared audit export (services/audit/exports.py), in the folder EXPORTS_FOLDER of the store.
EXPORT_NAMES = re.compile(r"[0-9a-f]{32}\.(?:csv|jsonl)")
EXPORTS_FOLDER = "exports"

CONTENT_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".upload": "application/octet-stream",
                 ".csv": "text/csv; charset=utf-8", ".jsonl": "application/x-ndjson; charset=utf-8"}
# Large files (exports) go to S3 in parts of this size, two at a time: memory stays ~16 MB.
_PART_BYTES = 8 * 1024 * 1024


class StorageUnavailable(OSError):
    """The evidence store could not be reached or refused the operation."""


class NotStored(LookupError):
    """No file of that name in the store."""


def check_name(name: object, names: re.Pattern[str] = EVIDENCE_NAMES) -> str:
    """The name, if the app could have chosen it; ValueError otherwise, so a name from anywhere
    else can never reach outside the store (a path, another prefix's key)."""
    if not isinstance(name, str) or not names.fullmatch(name):
        kind = "an evidence file" if names is EVIDENCE_NAMES else "a stored file"
        raise ValueError(f"not {kind} name: {name!r}")
    return name


def content_type(name: str) -> str:
    return CONTENT_TYPES[Path(name).suffix]


@dataclass(frozen=True)
class Listed:
    name: str
    size: int
    modified: datetime   # aware UTC


@dataclass(frozen=True)
class Opened:
    """A stored file being read: close it when done (the view's response does)."""

    stream: IO[bytes]
    size: int


class Backend(Protocol):
    description: str

    def write(self, name: str, data: bytes) -> None: ...
    def write_file(self, name: str, file: IO[bytes], sha256: str) -> None: ...
    def flush(self) -> None: ...
    def delete(self, name: str) -> None: ...
    def exists(self, name: str) -> bool: ...
    def open(self, name: str) -> Opened: ...
    def listing(self) -> Iterator[Listed]: ...


# --- the local folder ----------------------------------------------------------------------------

_warned_roots: set[Path] = set()


def _make_private(root: Path) -> None:
    """Creates ``root`` mode 0700, or tightens an existing one of ours to 0700: a checkout's
    ``uploads/`` comes from git as 0755, which lets every local account list the evidence.
    Costs what ``mkdir(exist_ok=True)`` costs (a mkdir and a stat); chmod runs only when the
    mode is wider, so once."""
    try:
        root.mkdir(mode=0o700, parents=True)
        return
    except FileExistsError:
        pass
    status = root.stat()
    if not stat.S_ISDIR(status.st_mode):
        raise NotADirectoryError(f"the evidence directory {root} is not a directory")
    mode = stat.S_IMODE(status.st_mode)
    if not mode & 0o077:
        return
    if status.st_uid == os.geteuid():
        try:
            root.chmod(0o700)
        except OSError as error:
            _warn_once(root, "evidence directory %s is mode %04o and could not be made 0700: %s",
                       root, mode, error)
        else:
            logger.warning("evidence directory %s was mode %04o; made it 0700", root, mode)
        return
    # Not ours to change: the operator who owns it has to.
    _warn_once(root, "evidence directory %s is mode %04o and belongs to another user; "
               "make it 0700", root, mode)


def _warn_once(root: Path, message: str, *args: object) -> None:
    # The store is built per request: one line per directory is enough.
    if root not in _warned_roots:
        _warned_roots.add(root)
        logger.warning(message, *args)


class LocalFiles:
    """Files directly under ``root``, mode 0600 in a 0700 folder: readable only by the app's user."""

    def __init__(self, root: Path | str, names: re.Pattern[str] = EVIDENCE_NAMES) -> None:
        # Absolute: a relative root would mean one place to the writer (the working directory)
        # and another to Flask's send_file (the app's root path).
        self.root = Path(root).absolute()
        self.names = names
        self.description = str(self.root)
        _make_private(self.root)

    def path_for(self, name: str) -> Path:
        return self.root / check_name(name, self.names)

    def write(self, name: str, data: bytes) -> None:
        self.write_file(name, io.BytesIO(data), "")

    def write_file(self, name: str, source: IO[bytes], sha256: str) -> None:
        """``source`` copied in 1 MB reads; ``sha256`` is for S3's metadata, the folder needs none."""
        path = self.path_for(name)
        # O_EXCL: never overwrite, never follow a planted symlink. 0600: only the app reads it.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as file:
                shutil.copyfileobj(source, file, 1024 * 1024)
                file.flush()
                # The row that points here may commit right after; the bytes must be on disk.
                os.fsync(file.fileno())
        except BaseException:
            path.unlink(missing_ok=True)
            raise

    def flush(self) -> None:
        """The new names must survive a machine crash too, before the rows naming them commit."""
        fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def delete(self, name: str) -> None:
        # unlink removes the name itself: were it a symlink, the link would go, never its target.
        self.path_for(name).unlink(missing_ok=True)

    def exists(self, name: str) -> bool:
        try:
            return stat.S_ISREG(os.lstat(self.path_for(name)).st_mode)
        except FileNotFoundError:
            return False

    def open(self, name: str) -> Opened:
        path = self.path_for(name)
        try:
            # O_NOFOLLOW: a symlink planted under a stored name is not followed out of the folder.
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError as error:
            # Gone, or a symlink planted under the name (ELOOP): not ours. Anything else (EIO,
            # EMFILE, EACCES) is the disk's trouble, not the file's: callers must not take it for
            # a lost file (a held upload would be marked lost and its bytes swept as an orphan).
            if isinstance(error, FileNotFoundError) or error.errno == errno.ELOOP:
                raise NotStored(name) from error
            raise StorageUnavailable(f"could not read {name}: {error.strerror}") from error
        file = os.fdopen(fd, "rb")
        size = os.fstat(fd).st_size
        return Opened(file, size)

    def listing(self) -> Iterator[Listed]:
        """Regular files with names the app could have chosen; symlinks, folders and every other
        name are left alone and never followed."""
        with os.scandir(self.root) as entries:
            for entry in entries:
                try:
                    check_name(entry.name, self.names)
                    info = entry.stat(follow_symlinks=False)
                except (ValueError, FileNotFoundError):  # not ours, or removed since the listing
                    continue
                if stat.S_ISREG(info.st_mode):
                    yield Listed(entry.name, info.st_size,
                                 datetime.fromtimestamp(info.st_mtime, timezone.utc))


# --- S3-compatible object storage ----------------------------------------------------------------

@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str   # "" or ends with "/"

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


def parse_s3_location(value: str) -> S3Location:
    """``s3://bucket/prefix`` (the prefix optional); ValueError with a readable reason otherwise."""
    parts = urlsplit(value)
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError(f"{value!r} is not an s3://bucket/prefix location")
    if parts.query or parts.fragment:
        raise ValueError(f"{value!r}: an S3 location has no query or fragment")
    # S3's own bucket rules, short form: 3-63 of lower-case letters, digits, dots and dashes.
    if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", parts.netloc):
        raise ValueError(f"{parts.netloc!r} is not a valid bucket name")
    prefix = parts.path.strip("/")
    if prefix and not re.fullmatch(r"[A-Za-z0-9._/-]+", prefix) or "//" in prefix:
        raise ValueError(f"{prefix!r}: use letters, digits, '.', '_', '-' and single '/' in the prefix")
    return S3Location(parts.netloc, prefix + "/" if prefix else "")


@dataclass(frozen=True)
class S3Settings:
    """Credentials come from boto3's own chain (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, a role…)."""

    location: S3Location
    endpoint_url: str | None = None   # S3_ENDPOINT_URL: any S3-compatible server; None for AWS
    region: str | None = None
    connect_timeout: float = 5
    read_timeout: float = 30


_clients: dict[S3Settings, object] = {}


def _client(settings: S3Settings):
    """One client per settings and process: building one costs ~50 ms, and clients are
    thread-safe."""
    client = _clients.get(settings)
    if client is None:
        import boto3  # only when S3 is configured: the embedded default never loads it
        from botocore.config import Config

        client = boto3.session.Session().client(
            "s3", endpoint_url=settings.endpoint_url, region_name=settings.region or "us-east-1",
            config=Config(connect_timeout=settings.connect_timeout,
                          read_timeout=settings.read_timeout,
                          retries={"max_attempts": 3, "mode": "standard"},
                          # Checksums only where S3 requires them: several S3-compatible servers
                          # refuse the trailing CRC32 that boto3 sends by default.
                          request_checksum_calculation="when_required",
                          response_checksum_validation="when_required",
                          s3={"addressing_style": "path"}))
        _clients[settings] = client
    return client


class S3Objects:
    """Objects ``prefix + name`` in one bucket, each with its SHA-256 in its metadata."""

    def __init__(self, settings: S3Settings, names: re.Pattern[str] = EVIDENCE_NAMES,
                 folder: str = "") -> None:
        self.settings = settings
        # A folder (exports/) below the configured prefix, for files of another kind.
        self.location = S3Location(settings.location.bucket,
                                   settings.location.prefix + (folder + "/" if folder else ""))
        self.names = names
        self.description = str(self.location)
        self._s3 = _client(settings)

    def key(self, name: str) -> str:
        return self.location.prefix + check_name(name, self.names)

    def write(self, name: str, data: bytes) -> None:
        # A successful PUT is durable; the name is 128 random bits, so it never meets another.
        digest = hashlib.sha256(data).hexdigest()
        self._call("store", name, self._s3.put_object, Bucket=self.location.bucket,
                   Key=self.key(name), Body=data, ContentType=content_type(name),
                   Metadata={"sha256": digest})

    def write_file(self, name: str, source: IO[bytes], sha256: str) -> None:
        """A large file in parts (multipart upload), so memory stays flat whatever its size."""
        from boto3.exceptions import Boto3Error
        from boto3.s3.transfer import TransferConfig

        try:
            self._s3.upload_fileobj(
                source, self.location.bucket, self.key(name),
                ExtraArgs={"ContentType": content_type(name), "Metadata": {"sha256": sha256}},
                Config=TransferConfig(multipart_threshold=_PART_BYTES,
                                      multipart_chunksize=_PART_BYTES, max_concurrency=2))
        except (*_s3_errors(), Boto3Error) as error:
            raise _unavailable("store", name, self.location, error) from error

    def flush(self) -> None:
        pass

    def delete(self, name: str) -> None:
        self._call("delete", name, self._s3.delete_object, Bucket=self.location.bucket,
                   Key=self.key(name))

    def head(self, name: str) -> dict | None:
        """The object's metadata, None when there is none."""
        try:
            return self._s3.head_object(Bucket=self.location.bucket, Key=self.key(name))
        except _s3_errors() as error:
            if _status(error) == 404:
                return None
            raise _unavailable("look up", name, self.location, error) from error

    def exists(self, name: str) -> bool:
        return self.head(name) is not None

    def open(self, name: str) -> Opened:
        try:
            answer = self._s3.get_object(Bucket=self.location.bucket, Key=self.key(name))
        except _s3_errors() as error:
            if _status(error) == 404:
                raise NotStored(name) from error
            raise _unavailable("read", name, self.location, error) from error
        return Opened(answer["Body"], int(answer["ContentLength"]))

    def listing(self) -> Iterator[Listed]:
        pages = self._s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.location.bucket, Prefix=self.location.prefix)
        try:
            for page in pages:
                for item in page.get("Contents", ()):
                    name = item["Key"][len(self.location.prefix):]
                    if self.names.fullmatch(name):  # deeper keys and other names are not ours
                        yield Listed(name, int(item["Size"]), item["LastModified"])
        except _s3_errors() as error:
            raise _unavailable("list", "the files", self.location, error) from error

    def ensure_bucket(self) -> None:
        """Creates the bucket if there is none (for tests and `evidence migrate`)."""
        bucket = self.location.bucket
        try:
            self._s3.head_bucket(Bucket=bucket)
        except _s3_errors() as error:
            if _status(error) != 404:
                raise _unavailable("find", f"bucket {bucket}", self.location, error) from error
            try:
                self._s3.create_bucket(Bucket=bucket)
            except _s3_errors() as error:
                # Another process may have created it meanwhile.
                if _reason(error) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise _unavailable("create", f"bucket {bucket}", self.location, error) from error

    def _call(self, verb: str, name: str, method, **arguments) -> dict:
        try:
            return method(**arguments)
        except _s3_errors() as error:
            raise _unavailable(verb, name, self.location, error) from error


def _s3_errors() -> tuple[type[Exception], ...]:
    # botocore wraps every connection and protocol error in these two.
    from botocore.exceptions import BotoCoreError, ClientError

    return BotoCoreError, ClientError


def _status(error: Exception) -> int | None:
    response = getattr(error, "response", None) or {}
    return response.get("ResponseMetadata", {}).get("HTTPStatusCode")


def _reason(error) -> str:
    details = getattr(error, "response", {}).get("Error", {})
    return details.get("Code") or type(error).__name__


def _unavailable(verb: str, name: str, location: S3Location, error: Exception) -> StorageUnavailable:
    # The error's class and code only: botocore's messages can carry the endpoint and key.
    return StorageUnavailable(f"could not {verb} {name} in {location}: {_reason(error)}")
