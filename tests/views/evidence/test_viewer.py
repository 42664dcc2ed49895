"""The evidence viewer's data on the agent's request page (templates/staff/_evidence_viewer.html): each
file with its metadata, and the file of another request that the context signals name for comparison,
with who may load which image. The viewer's behaviour in a browser is in
tests/harness/test_evidence_viewer.py."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from moderation_app.models import User
from tests.helpers.clients import FormClient, page_text
from tests.helpers.images import image_bytes, screenshot_and_near_copy
from tests.helpers.marketplace import add_review
from tests.helpers.requests import add_request, file_request
from tests.helpers.stored import evidence_rows


class ViewerData(HTMLParser):
    """The attributes of the viewer's elements: its files and, per file, its matches."""

    def __init__(self) -> None:
        super().__init__()
        self.files: list[dict[str, str | None]] = []
        self.matches: dict[str, list[dict[str, str | None]]] = {}
        self.openers: list[dict[str, str | None]] = []
        self.dialogs = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "dialog" and "data-viewer" in found:
            self.dialogs += 1
        if "data-viewer-open" in found:
            self.openers.append(found)
        if "data-viewer-file" in found:
            self.files.append(found)
            self.matches[found["data-src"]] = []
        if "data-viewer-match" in found:
            self.matches[self.files[-1]["data-src"]].append(found)


def viewer_on(client: FormClient, request_id: int) -> ViewerData:
    response = client.get(f"/requests/{request_id}")
    assert response.status_code == 200
    parsed = ViewerData()
    parsed.feed(page_text(response))
    return parsed


@pytest.fixture
def near_identical(app, seller: User, other_seller: User, seller_client: FormClient,
                   other_seller_client: FormClient) -> tuple[int, int]:
    """Two sellers' requests whose screenshots are near-identical: (earlier, later) request ids."""
    original, copy = screenshot_and_near_copy()
    earlier = file_request(seller_client, add_review(app, seller), files=[(original, "chat.png")])
    later = file_request(other_seller_client, add_review(app, other_seller),
                         files=[(image_bytes(seed=9), "unrelated.png"), (copy, "chat-again.png")])
    return earlier, later


def test_request_page_names_the_near_identical_file_of_another_request_for_comparison(
        app, agent_client, near_identical):
    earlier, later = near_identical
    theirs, unrelated, mine = evidence_rows(app)

    viewer = viewer_on(agent_client, later)

    assert [file["data-src"] for file in viewer.files] == [f"/evidence/{unrelated.id}", f"/evidence/{mine.id}"]
    assert [file["data-name"] for file in viewer.files] == ["unrelated.png", "chat-again.png"]
    assert viewer.matches[f"/evidence/{unrelated.id}"] == []
    [match] = viewer.matches[f"/evidence/{mine.id}"]
    assert match["data-src"] == f"/evidence/{theirs.id}"
    assert match["data-name"] == "chat.png"
    assert match["data-request"] == str(earlier)
    assert match["data-request-url"] == f"/requests/{earlier}"
    assert match["data-label"] == "near-identical, distance 2, another seller"


def test_identical_file_is_offered_for_comparison_as_the_same_file(app, seller, other_seller, seller_client,
                                                                   other_seller_client, agent_client):
    data = image_bytes(size=(300, 200), seed=4)
    earlier = file_request(seller_client, add_review(app, seller), files=[(data, "proof.png")])
    later = file_request(other_seller_client, add_review(app, other_seller), files=[(data, "mine.png")])

    [file] = viewer_on(agent_client, later).files
    [match] = viewer_on(agent_client, later).matches[file["data-src"]]

    assert match["data-request"] == str(earlier)
    assert match["data-label"] == "the same file, another seller"


def test_viewer_lists_each_file_with_the_metadata_of_the_evidence_table(app, agent_client, near_identical):
    _, later = near_identical
    [_, _, mine] = evidence_rows(app)

    body = page_text(agent_client.get(f"/requests/{later}"))
    start = body.index(f'data-viewer-file data-src="/evidence/{mine.id}"')
    panel = body[start:body.index("</section>", start)]

    for fact in (mine.original_filename, mine.sha256, mine.perceptual_hash, f"{mine.width}×{mine.height}",
                 mine.format.upper(), f"{round(mine.byte_size / 1024, 1)} KB"):
        assert fact in panel


def test_viewer_opener_is_hidden_until_its_script_runs_and_the_full_size_links_stay(app, agent_client,
                                                                                   near_identical):
    _, later = near_identical
    body = page_text(agent_client.get(f"/requests/{later}"))
    [opener] = viewer_on(agent_client, later).openers

    assert opener["data-shortcut"] == "e"
    assert 'data-viewer-launch hidden' in body
    assert '<script src="/static/js/evidence_viewer.js" defer></script>' in body
    # Without JavaScript the gallery and the table still link every file at full size.
    for item in evidence_rows(app)[1:]:
        assert body.count(f'<a href="/evidence/{item.id}" target="_blank" rel="noopener">') >= 2


def test_request_without_files_has_no_viewer(app, seller, agent_client):
    request_id = add_request(app, seller, add_review(app, seller))

    viewer = viewer_on(agent_client, request_id)

    assert viewer.dialogs == 0 and viewer.openers == []


@pytest.mark.parametrize("staff", ["agent_client", "manager_client"])
def test_staff_may_load_the_other_requests_image_the_viewer_compares(request, app, near_identical, staff):
    _, later = near_identical
    client = request.getfixturevalue(staff)
    [match] = [match for matches in viewer_on(client, later).matches.values() for match in matches]

    response = client.get(match["data-src"])
    response.close()  # a file is streamed

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/png"


def test_seller_never_loads_the_other_sellers_matching_file(app, near_identical, other_seller_client):
    earlier, later = near_identical
    theirs = evidence_rows(app)[0]

    own_page = page_text(other_seller_client.get(f"/seller/requests/{later}"))
    response = other_seller_client.get(f"/evidence/{theirs.id}")

    assert theirs.request_id == earlier
    assert f"/evidence/{theirs.id}" not in own_page and "data-viewer" not in own_page
    assert response.status_code == 404
    assert other_seller_client.get(f"/evidence/{theirs.id}/thumbnail").status_code == 404
