"""Evidence in a real S3 server (SeaweedFS; run with `.ci/with-seaweedfs`, which sets
S3_ENDPOINT_URL): `evidence gc` sweeps orphan objects under the desk's prefix and nothing else, and
`evidence migrate --to s3://…` copies a local desk's files, checks each SHA-256, and can be rerun."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from pathlib import Path

import pytest
from flask import Flask

from moderation_app.models import EvidenceUpload
from moderation_app.services.audit.log import verify_chain
from tests.helpers.images import image_bytes
from tests.helpers.jobs import job_queue, run_worker
from tests.helpers.marketplace import add_review
from tests.helpers.requests import file_request
from tests.helpers.s3 import S3_ENDPOINT_URL, s3_client, s3_objects
from tests.helpers.stored import all_rows, audit_details, evidence_rows, stored_files

pytestmark = pytest.mark.skipif(not S3_ENDPOINT_URL, reason="needs an S3 server: .ci/with-seaweedfs")

BUCKET = "desk-s3-tests"


@pytest.fixture
def location() -> str:
    """A fresh prefix of the test bucket."""
    place = f"s3://{BUCKET}/{uuid.uuid4().hex}/"
    s3_objects(place).ensure_bucket()
    return place


def keys(prefix: str) -> list[str]:
    bucket, _, path = prefix.removeprefix("s3://").partition("/")
    listed = s3_client().list_objects_v2(Bucket=bucket, Prefix=path).get("Contents", [])
    return sorted(item["Key"][len(path):] for item in listed)


def put(location: str, name: str, data: bytes = b"x" * 100) -> None:
    bucket, _, path = location.removeprefix("s3://").partition("/")
    s3_client().put_object(Bucket=bucket, Key=path + name, Body=data)


def read(location: str, name: str) -> bytes:
    bucket, _, path = location.removeprefix("s3://").partition("/")
    return s3_client().get_object(Bucket=bucket, Key=path + name)["Body"].read()


def on_s3(app: Flask, location: str) -> None:
    app.config.update(EVIDENCE_STORAGE=location, S3_ENDPOINT_URL=S3_ENDPOINT_URL)


def on_local_folder(app: Flask) -> Path:
    app.config["EVIDENCE_STORAGE"] = None
    return Path(app.config["UPLOAD_DIR"])


def uploaded(app: Flask, seller, seller_client, files: int = 2) -> list[str]:
    screenshots = [(image_bytes("PNG", seed=seed), f"chat{seed}.png") for seed in range(files)]
    file_request(seller_client, add_review(app, seller), files=screenshots)
    return sorted(name for row in evidence_rows(app) for name in (row.stored_name, row.thumbnail_name))


# --- gc --------------------------------------------------------------------------------------------

def test_gc_on_s3_removes_orphan_objects_and_nothing_a_row_or_another_prefix_holds(
        app, runner, seller, seller_client, location):
    on_s3(app, location)
    kept = uploaded(app, seller, seller_client)
    orphans = [secrets.token_hex(16) + ".png", secrets.token_hex(16) + ".thumb.jpg"]
    for name in orphans:
        put(location, name)
    not_ours = ["notes.txt", "deeper/" + secrets.token_hex(16) + ".png"]
    for name in not_ours:
        put(location, name)
    neighbour = location.rstrip("/") + "-other/"
    put(neighbour, orphans[0])

    result = runner.invoke(args=["evidence", "gc", "--min-age-minutes", "0"])

    assert result.exit_code == 0, result.output
    assert keys(location) == sorted(kept + not_ours)
    assert keys(neighbour) == [orphans[0]]
    assert "removed 2 orphan files (200 bytes)" in result.output
    [event] = audit_details(app, "evidence.gc")
    assert event["names"] == sorted(orphans)


def test_gc_on_s3_leaves_young_orphans_alone_and_reports_rows_whose_object_is_gone(
        app, runner, seller, seller_client, location):
    on_s3(app, location)
    kept = uploaded(app, seller, seller_client, files=1)
    put(location, secrets.token_hex(16) + ".jpg")
    bucket, _, path = location.removeprefix("s3://").partition("/")
    s3_client().delete_object(Bucket=bucket, Key=path + kept[0])

    result = runner.invoke(args=["evidence", "gc"])

    assert result.exit_code == 1
    assert "removed 0 orphan files (0 bytes); 1 younger than 60 min left alone; 1 missing files" \
        in result.output
    assert f"missing file {kept[0]}" in result.output


# --- migrate ---------------------------------------------------------------------------------------

def test_migrate_copies_every_file_with_its_hash_and_the_desk_then_serves_them_from_s3(
        app, runner, seller, seller_client, location):
    folder = on_local_folder(app)
    names = uploaded(app, seller, seller_client)

    result = runner.invoke(args=["evidence", "migrate", "--to", location])

    assert result.exit_code == 0, result.output
    assert f"copied 4 files" in result.output and "0 already there; 0 missing; 0 failed" in result.output
    assert keys(location) == names
    for name in names:
        assert read(location, name) == (folder / name).read_bytes()
    for row in evidence_rows(app):
        assert hashlib.sha256(read(location, row.stored_name)).hexdigest() == row.sha256
    [event] = audit_details(app, "evidence.migrated")
    assert (event["copied"], event["already_there"], event["missing"], event["failed"]) == (4, 0, 0, 0)
    with app.app_context():
        assert verify_chain().ok

    on_s3(app, location)
    for name in names:
        (folder / name).unlink()  # the desk must now read S3 alone
    [row] = [row for row in evidence_rows(app) if row.stored_name == names[0]
             or row.thumbnail_name == names[0]][:1]
    response = seller_client.get(f"/evidence/{row.id}")
    assert response.status_code == 200
    assert response.get_data() == read(location, row.stored_name)
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_migrate_copies_uploads_still_held_for_processing_and_the_worker_then_reads_s3(
        app, runner, seller, seller_client, location):
    folder = on_local_folder(app)
    app.config["EVIDENCE_BACKGROUND_PIXELS"] = 1
    with job_queue(app):
        file_request(seller_client, add_review(app, seller),
                     files=[(image_bytes("PNG", seed=31), "large.png")])
        [held] = all_rows(app, EvidenceUpload)

        result = runner.invoke(args=["evidence", "migrate", "--to", location])
        assert result.exit_code == 0, result.output
        assert "copied 1 files" in result.output
        assert read(location, held.held_name) == (folder / held.held_name).read_bytes()

        on_s3(app, location)
        (folder / held.held_name).unlink()  # the worker must now read S3 alone
        assert run_worker(app)
    [row] = evidence_rows(app)
    assert hashlib.sha256(read(location, row.stored_name)).hexdigest() == row.sha256
    assert held.held_name not in keys(location)


def test_migrate_rerun_after_an_interruption_copies_only_what_is_not_there_yet(
        app, runner, seller, seller_client, location):
    on_local_folder(app)
    names = uploaded(app, seller, seller_client)
    assert runner.invoke(args=["evidence", "migrate", "--to", location]).exit_code == 0
    bucket, _, path = location.removeprefix("s3://").partition("/")
    s3_client().delete_object(Bucket=bucket, Key=path + names[1])  # as if stopped before it

    result = runner.invoke(args=["evidence", "migrate", "--to", location, "--verbose"])

    assert result.exit_code == 0, result.output
    assert "copied 1 files" in result.output and "3 already there" in result.output
    assert f"copied: {names[1]}" in result.output
    assert keys(location) == names


def test_migrate_refuses_a_file_whose_hash_is_not_the_one_recorded_and_says_which(
        app, runner, seller, seller_client, location):
    folder = on_local_folder(app)
    uploaded(app, seller, seller_client, files=1)
    [row] = evidence_rows(app)
    (folder / row.stored_name).write_bytes(b"tampered")
    (folder / row.thumbnail_name).unlink()

    result = runner.invoke(args=["evidence", "migrate", "--to", location])

    assert result.exit_code == 1
    assert f"not copied: {row.stored_name}: the source file's SHA-256 is not the one recorded" \
        in result.output
    assert f"missing from {folder}: {row.thumbnail_name}" in result.output
    assert keys(location) == []
    [event] = audit_details(app, "evidence.migrated")
    assert event["problem_names"] == [row.stored_name, row.thumbnail_name]


def test_migrate_refuses_a_location_that_is_not_s3_and_the_store_it_already_uses(app, runner,
                                                                                 location):
    result = runner.invoke(args=["evidence", "migrate", "--to", "/var/uploads"])
    assert result.exit_code == 2 and "not an s3://bucket/prefix location" in result.output

    on_s3(app, location)
    result = runner.invoke(args=["evidence", "migrate", "--to", location])
    assert result.exit_code == 2 and "is already the desk's evidence store" in result.output
    assert audit_details(app, "evidence.migrated") == []
