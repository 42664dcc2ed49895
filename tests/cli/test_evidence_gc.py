"""`flask evidence gc`: orphan files (no Evidence row) are removed once old enough, files rows point
to are kept, anything not named by the app (or not a regular file) is never touched, rows whose
file is missing are reported, and a removal is recorded in the audit log."""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

from flask import Flask

from moderation_app.services.audit.log import verify_chain
from tests.helpers.images import image_bytes
from tests.helpers.marketplace import add_review
from tests.helpers.requests import file_request
from tests.helpers.s3 import local_storage_only
from tests.helpers.stored import audit_details, evidence_rows, stored_files

# Files planted with their age set by hand: the local folder's. S3's are in test_evidence_s3.py.
pytestmark = local_storage_only

TWO_HOURS = 2 * 3600


def upload_dir(app: Flask) -> Path:
    return Path(app.config["UPLOAD_DIR"])


def plant(directory: Path, name: str, *, age_seconds: int = TWO_HOURS, data: bytes = b"x" * 100
          ) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_bytes(data)
    then = time.time() - age_seconds
    os.utime(path, (then, then))
    return path


def orphan_names() -> list[str]:
    """An image and a thumbnail such as a killed upload leaves behind."""
    token, other = secrets.token_hex(16), secrets.token_hex(16)
    return [token + ".png", token + ".thumb.jpg", other + ".jpg"]


def referenced_names(app: Flask) -> list[str]:
    return sorted(name for row in evidence_rows(app)
                  for name in (row.stored_name, row.thumbnail_name))


def chain_ok(app: Flask) -> bool:
    with app.app_context():
        return verify_chain().ok


def uploaded(app: Flask, seller, seller_client, files: int = 2) -> list[str]:
    """Files stored by a real upload through the form; returns the names rows point to."""
    screenshots = [(image_bytes("PNG", seed=seed), f"chat{seed}.png") for seed in range(files)]
    file_request(seller_client, add_review(app, seller), files=screenshots)
    return referenced_names(app)


def test_gc_removes_old_orphans_and_keeps_every_file_a_row_points_to(
        app, runner, seller, seller_client):
    kept = uploaded(app, seller, seller_client)
    orphans = orphan_names()
    for name in orphans:
        plant(upload_dir(app), name)

    result = runner.invoke(args=["evidence", "gc"])

    assert result.exit_code == 0, result.output
    assert stored_files(app) == kept
    for name in orphans:
        assert f"removed orphan {name} (100 bytes, 2 h 0 min old)" in result.output
    assert "removed 3 orphan files (300 bytes); 0 younger than 60 min left alone; " \
           "0 missing files" in result.output
    [event] = audit_details(app, "evidence.gc")
    assert event == {"removed": 3, "removed_bytes": 300, "failed": 0, "too_young": 0,
                     "rows_missing_files": 0, "min_age_minutes": 60,
                     "names": sorted(orphans), "names_truncated": False}
    assert chain_ok(app)


def test_gc_leaves_young_orphans_alone_as_they_may_belong_to_an_upload_in_flight(app, runner):
    young = plant(upload_dir(app), orphan_names()[0], age_seconds=10 * 60)

    result = runner.invoke(args=["evidence", "gc"])
    assert result.exit_code == 0, result.output
    assert young.exists()
    assert "removed 0 orphan files (0 bytes); 1 younger than 60 min left alone" in result.output

    result = runner.invoke(args=["evidence", "gc", "--min-age-minutes", "5"])
    assert result.exit_code == 0, result.output
    assert not young.exists()
    assert "removed 1 orphan files (100 bytes); 0 younger than 5 min left alone" in result.output


def test_gc_dry_run_lists_orphans_but_removes_nothing_and_records_nothing(
        app, runner, seller, seller_client):
    uploaded(app, seller, seller_client, files=1)
    orphan = plant(upload_dir(app), orphan_names()[0])
    before = stored_files(app)

    result = runner.invoke(args=["evidence", "gc", "--dry-run"])

    assert result.exit_code == 0, result.output
    assert f"would remove orphan {orphan.name}" in result.output
    assert "1 orphan files, nothing removed (dry run)" in result.output
    assert stored_files(app) == before
    assert audit_details(app, "evidence.gc") == []


def test_gc_with_nothing_to_remove_records_no_event(app, runner, seller, seller_client):
    kept = uploaded(app, seller, seller_client)

    result = runner.invoke(args=["evidence", "gc", "--min-age-minutes", "0"])

    assert result.exit_code == 0, result.output
    assert "removed 0 orphan files (0 bytes); 0 younger than 0 min left alone; 0 missing files" \
        in result.output
    assert stored_files(app) == kept
    assert audit_details(app, "evidence.gc") == []


def test_gc_never_touches_other_names_symlinks_directories_or_anything_outside(
        app, runner, tmp_path):
    uploads = upload_dir(app)
    outside = plant(tmp_path / "elsewhere", secrets.token_hex(16) + ".png")
    foreign = [
        plant(uploads, "notes.txt"),
        plant(uploads, secrets.token_hex(16).upper() + ".png"),
        plant(uploads, secrets.token_hex(16) + ".png.bak"),
        plant(uploads, "." + secrets.token_hex(16) + ".png"),
        plant(uploads, secrets.token_hex(16) + ".gif"),
    ]
    # Named like our files, but a symlink (to a file and to a directory) and a directory.
    file_link = uploads / (secrets.token_hex(16) + ".png")
    file_link.symlink_to(outside)
    directory_link = uploads / (secrets.token_hex(16) + ".jpg")
    directory_link.symlink_to(outside.parent, target_is_directory=True)
    directory = uploads / (secrets.token_hex(16) + ".thumb.jpg")
    directory.mkdir()
    inside_directory = plant(directory, secrets.token_hex(16) + ".png")
    real_orphan = plant(uploads, orphan_names()[0])

    result = runner.invoke(args=["evidence", "gc", "--min-age-minutes", "0"])

    assert result.exit_code == 0, result.output
    assert not real_orphan.exists()
    assert "removed 1 orphan files" in result.output
    for path in [*foreign, outside, inside_directory]:
        assert path.read_bytes() == b"x" * 100, path
    assert file_link.is_symlink() and directory_link.is_symlink() and directory.is_dir()
    for path in [*foreign, file_link, directory_link, directory, outside]:
        assert path.name not in result.output


def test_gc_reports_rows_whose_file_is_missing_and_keeps_the_rows(
        app, runner, seller, seller_client):
    uploaded(app, seller, seller_client, files=1)
    [row] = evidence_rows(app)
    (upload_dir(app) / row.stored_name).unlink()
    orphan = plant(upload_dir(app), orphan_names()[0])

    result = runner.invoke(args=["evidence", "gc"])

    assert result.exit_code == 1
    assert (f"missing file {row.stored_name} of evidence {row.id} (request {row.request_id})"
            in result.output)
    assert "removed 1 orphan files (100 bytes); 0 younger than 60 min left alone; " \
           "1 missing files" in result.output
    assert not orphan.exists()
    assert [item.id for item in evidence_rows(app)] == [row.id]
    assert stored_files(app) == [row.thumbnail_name]
    [event] = audit_details(app, "evidence.gc")
    assert event["removed"] == 1 and event["rows_missing_files"] == 1
    assert chain_ok(app)
