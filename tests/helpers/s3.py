"""Evidence in S3 for tests: TEST_EVIDENCE_STORAGE=s3://bucket (with S3_ENDPOINT_URL, e.g. the
SeaweedFS server that `.ci/with-seaweedfs` starts) runs every test's app on a prefix of its own in
that bucket instead of a local folder. What is stored is read back with boto3 directly, not
through the app's backend, so a backend bug cannot hide itself."""

from __future__ import annotations

import os
import uuid

import pytest
from flask import Flask

from moderation_app.services.evidence.backends import S3Objects, S3Settings, parse_s3_location

TEST_EVIDENCE_STORAGE = os.environ.get("TEST_EVIDENCE_STORAGE")
S3_ENDPOINT_URL = os.environ.get("S3_ENDPOINT_URL")

local_storage_only = pytest.mark.skipif(bool(TEST_EVIDENCE_STORAGE),
                                        reason="about the local folder (TEST_EVIDENCE_STORAGE is set)")


def storage_config_for_test() -> dict[str, object]:
    """EVIDENCE_STORAGE for one test's app: a fresh prefix in the test bucket, or nothing."""
    if not TEST_EVIDENCE_STORAGE:
        return {}
    location = parse_s3_location(TEST_EVIDENCE_STORAGE)
    return {"EVIDENCE_STORAGE": f"s3://{location.bucket}/{location.prefix}{uuid.uuid4().hex}/",
            "S3_ENDPOINT_URL": S3_ENDPOINT_URL}


def s3_objects(location: str, endpoint_url: str | None = S3_ENDPOINT_URL) -> S3Objects:
    """The app's backend on `location`, for arranging a test (creating the bucket)."""
    return S3Objects(S3Settings(parse_s3_location(location), endpoint_url=endpoint_url))


def s3_client(endpoint_url: str | None = S3_ENDPOINT_URL):
    import boto3
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=endpoint_url, region_name="us-east-1",
                        config=Config(request_checksum_calculation="when_required",
                                      response_checksum_validation="when_required"))


def _prefix(app: Flask, folder: str) -> tuple[object, str, str]:
    """A client, the bucket, and the app's prefix or its `folder` below it (exports/), as the
    backend's own `folder` makes it."""
    location = parse_s3_location(str(app.config["EVIDENCE_STORAGE"]))
    return (s3_client(app.config.get("S3_ENDPOINT_URL")), location.bucket,
            location.prefix + (folder + "/" if folder else ""))


def stored_keys(app: Flask, folder: str = "") -> list[str]:
    """The names of the objects under the app's prefix, or its `folder` (the names the app chose)."""
    client, bucket, prefix = _prefix(app, folder)
    names = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        names += [item["Key"][len(prefix):] for item in page.get("Contents", ())]
    return sorted(names)


def _object(app: Flask, name: str, folder: str) -> tuple[object, str, str]:
    client, bucket, prefix = _prefix(app, folder)
    return client, bucket, prefix + name


def object_bytes(app: Flask, name: str, folder: str = "") -> bytes:
    client, bucket, key = _object(app, name, folder)
    return client.get_object(Bucket=bucket, Key=key)["Body"].read()


def put_object(app: Flask, name: str, data: bytes, folder: str = "") -> None:
    client, bucket, key = _object(app, name, folder)
    client.put_object(Bucket=bucket, Key=key, Body=data)


def remove_object(app: Flask, name: str, folder: str = "") -> None:
    client, bucket, key = _object(app, name, folder)
    client.delete_object(Bucket=bucket, Key=key)
