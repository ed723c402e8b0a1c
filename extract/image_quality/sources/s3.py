"""S3 sources: image objects under ``s3://BUCKET[/PREFIX]``, and the bytes of one object.

* A source is a bucket and a key prefix, read as a folder: ``s3://b/up`` and
  ``s3://b/up/`` both mean the keys that start with ``up/``; ``s3://b`` the
  whole bucket. Its stored root is ``s3://b/up/``.
* The listing is paged (``ListObjectsV2``, ``PAGE_KEYS`` keys a page) and keeps
  the keys whose extension is an image's, case-insensitively, as for files.
  No key is hidden: a key is a name, not a path.
* The stored name of an object is ``s3://BUCKET/KEY`` exactly: a key may hold
  ``//``, ``..``, spaces, backslashes and any Unicode, and is never normalised.
* The change marker is (size, LastModified, ETag). LastModified is kept to
  the whole second, which is all S3 keeps and all a GET's header tells; the
  ETag says that an object changed and is never used as a content hash (a
  multipart upload's ETag is no MD5). The content key stays the SHA-256 of the
  bytes, computed by the loader.
* Credentials, region, endpoint (``AWS_ENDPOINT_URL`` for MinIO and other
  S3-compatible servers), retries (``AWS_MAX_ATTEMPTS``, ``AWS_RETRY_MODE``) and
  addressing style come from boto3's standard chain: environment, profile,
  config files, instance roles. Nothing here adds a setting of its own.

boto3 rather than obstore: boto3 resolves the whole standard AWS chain, lists
object versions, lets the page size be set, and is a 1.x SDK; its client does
not pickle, so each worker process makes its own on first use (``_client``).
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Iterator

from .base import MAX_FILE_BYTES, FoundFile, ObjectStat, ReadError, SourceError, Walk, WalkProblem, is_image_name

SCHEME = "s3://"
# Keys per listing page: S3's own maximum. IMAGE_QUALITY_S3_PAGE_KEYS lowers it
# (the tests force several pages over a small bucket with it).
PAGE_KEYS_ENV = "IMAGE_QUALITY_S3_PAGE_KEYS"
DEFAULT_PAGE_KEYS = 1000

_client_cache = None


def is_s3(source: str) -> bool:
    return source.startswith(SCHEME)


def split(url: str) -> tuple[str, str]:
    """(bucket, key) of a stored name or (bucket, prefix) of a source; the key kept exactly."""
    bucket, _, key = url[len(SCHEME):].partition("/")
    return bucket, key


def check_source(source: str) -> str:
    """The stored root of an ``s3://`` source; SourceError if it cannot be listed."""
    bucket, prefix = split(source)
    if not bucket:
        raise SourceError(f"source {source} names no bucket (expected s3://BUCKET[/PREFIX])")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    root = f"{SCHEME}{bucket}/{prefix}"
    try:
        listed = _client().list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1)
        # S3 has no folders: a prefix no key starts with is a folder that does not exist (a
        # misspelling, or an object's key given as if it were a folder). A bucket may be empty.
        if prefix and not listed.get("KeyCount", len(listed.get("Contents", ()))):
            key = prefix[:-1]
            same = _client().list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1).get("Contents", ())
            if same and same[0]["Key"] == key:
                raise SourceError(f"source {SCHEME}{bucket}/{key} names an object, not a prefix: give the "
                                  f"prefix it is under (s3://BUCKET/PREFIX/ lists every image below it)")
            raise SourceError(f"source {root} does not exist: no object key starts with {prefix!r} "
                              f"in bucket {bucket}")
    except SourceError:
        raise
    except Exception as exc:
        raise SourceError(f"cannot list source {root}: {_describe(exc)}") from None
    return root


def walk(root: str, walk: Walk) -> Iterator[FoundFile]:
    """Every image object under ``root``, in key order.

    A listing that fails part way (the server gone, access revoked) is a problem
    of the whole root, reported as an unreadable folder: the loader then closes
    no path under it, since what was not listed was not seen.
    """
    bucket, prefix = split(root)
    pages = _client().get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix, PaginationConfig={"PageSize": page_keys()})
    try:
        for page in pages:
            for obj in page.get("Contents", ()):
                key = obj["Key"]
                if key.endswith("/") or not is_image_name(key):
                    continue
                yield FoundFile(f"{SCHEME}{bucket}/{key}", root, int(obj["Size"]),
                                _mtime_ns(obj["LastModified"]), obj.get("ETag"))
    except Exception as exc:
        walk.problems.append(WalkProblem(root, "unreadable_folder", f"listing failed: {_describe(exc)}"))


def read(path: str) -> tuple[bytes, ObjectStat]:
    """The bytes of the object a stored name names, and what they were read at.

    Raises ReadError with the kind of failure once boto3's own retries are spent.
    """
    bucket, key = split(path)
    try:
        response = _client().get_object(Bucket=bucket, Key=key)
        size = int(response["ContentLength"])
        body = response["Body"]
        if size > MAX_FILE_BYTES:
            body.close()
            raise ReadError("file_too_large", f"the object holds {size:,} bytes, above the limit of "
                                              f"{MAX_FILE_BYTES:,}; not read")
        data = body.read()  # botocore checks the length against Content-Length
    except ReadError:
        raise
    except Exception as exc:
        raise _read_error(exc) from None
    return data, ObjectStat(size, _mtime_ns(response["LastModified"]), response.get("ETag"),
                            response.get("VersionId"))


def page_keys() -> int:
    return max(1, int(os.environ.get(PAGE_KEYS_ENV) or DEFAULT_PAGE_KEYS))


def reader_state() -> dict[str, str]:
    """What a worker process needs to make the same client: the AWS variables of this process."""
    return {name: value for name, value in os.environ.items() if name.startswith("AWS_")}


def init_reader(state: dict[str, str]) -> None:
    """In a worker: take the parent's AWS variables (a forkserver may have started before they were set)."""
    global _client_cache
    for name in [n for n in os.environ if n.startswith("AWS_") and n not in state]:
        del os.environ[name]
    os.environ.update(state)
    _client_cache = None


def _client():
    global _client_cache
    if _client_cache is None:
        try:
            import boto3
            from botocore.config import Config
        except ImportError:
            raise SourceError("s3:// sources need boto3: pip install 'image-quality[s3]'") from None
        _client_cache = boto3.session.Session().client(
            "s3", config=Config(user_agent_extra="image-quality"))
    return _client_cache


def _mtime_ns(last_modified: datetime) -> int:
    return int(last_modified.timestamp()) * 1_000_000_000


_DENIED = {"AccessDenied", "Forbidden", "AllAccessDisabled", "InvalidAccessKeyId", "SignatureDoesNotMatch",
           "403"}
_GONE = {"NoSuchKey", "404", "NotFound"}
_THROTTLED = {"SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded", "ServiceUnavailable",
              "503"}


def _read_error(exc: Exception) -> ReadError:
    from botocore.exceptions import ClientError, ConnectionError, HTTPClientError, IncompleteReadError

    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in _DENIED:
            return ReadError("permission_denied", _describe(exc))
        if code in _GONE:
            return ReadError("vanished", _describe(exc))
        if code in _THROTTLED:
            return ReadError("throttled", f"{_describe(exc)} (after the client's retries)")
        return ReadError("read_failed", _describe(exc))
    if isinstance(exc, (ConnectionError, HTTPClientError, IncompleteReadError)):
        return ReadError("source_unreachable", _describe(exc))
    return ReadError("read_failed", _describe(exc))


def _describe(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__
