"""EvidenceStore's directory: created 0700, and an existing one of ours that is wider (a checkout's
`uploads/` comes from git as 0755) made 0700 the first time a store opens it, said once in the log."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from moderation_app.services.evidence import backends
from moderation_app.services.evidence.storage import EvidenceStore
from tests.helpers.marketplace import add_review
from tests.helpers.requests import file_request
from tests.helpers.s3 import local_storage_only


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def checked_out(path: Path, permissions: int = 0o755) -> Path:
    """A directory as a fresh checkout has it: from git, with its .gitkeep, mode 0755."""
    path.mkdir(parents=True)
    (path / ".gitkeep").touch()
    path.chmod(permissions)
    return path


def warnings_about(caplog: pytest.LogCaptureFixture, root: Path) -> list[str]:
    return [record.getMessage() for record in caplog.records
            if record.name == backends.logger.name and str(root) in record.getMessage()]


@pytest.mark.parametrize("permissions", [0o755, 0o750, 0o701, 0o777], ids="{:04o}".format)
def test_a_store_over_a_wider_directory_of_ours_makes_it_0700_and_says_so_once(tmp_path, caplog,
                                                                               permissions):
    root = checked_out(tmp_path / "uploads", permissions)

    with caplog.at_level(logging.WARNING):
        EvidenceStore(root)
        EvidenceStore(root)

    assert mode(root) == 0o700
    assert warnings_about(caplog, root) == [
        f"evidence directory {root} was mode {permissions:04o}; made it 0700"]
    assert (root / ".gitkeep").exists()


def test_a_private_directory_is_left_as_it_is_without_a_word(tmp_path, caplog, monkeypatch):
    root = checked_out(tmp_path / "uploads", 0o700)
    monkeypatch.setattr(Path, "chmod", lambda *args: pytest.fail("chmod on a private directory"))

    with caplog.at_level(logging.WARNING):
        EvidenceStore(root)

    assert mode(root) == 0o700
    assert warnings_about(caplog, root) == []


def test_another_users_wider_directory_is_left_alone_and_reported_once(tmp_path, caplog,
                                                                       monkeypatch):
    root = checked_out(tmp_path / "uploads", 0o755)
    monkeypatch.setattr(os, "geteuid", lambda: os.stat(root).st_uid + 1)

    with caplog.at_level(logging.WARNING):
        EvidenceStore(root)
        EvidenceStore(root)

    assert mode(root) == 0o755
    assert warnings_about(caplog, root) == [
        f"evidence directory {root} is mode 0755 and belongs to another user; make it 0700"]


def test_a_store_refuses_a_root_that_is_a_file(tmp_path):
    root = tmp_path / "uploads"
    root.write_bytes(b"")

    with pytest.raises(NotADirectoryError):
        EvidenceStore(root)


@local_storage_only
def test_a_checked_out_uploads_directory_is_0700_once_the_desk_has_stored_evidence(
        app, seller, seller_client, tmp_path):
    root = checked_out(tmp_path / "checkout" / "uploads")
    app.config["UPLOAD_DIR"] = str(root)

    file_request(seller_client, add_review(app, seller))

    assert mode(root) == 0o700
    names = sorted(path.name for path in root.iterdir())
    assert names[0] == ".gitkeep" and len(names) == 3  # the image and its thumbnail
