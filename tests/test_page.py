"""The web page at / in a real browser (Debian's Chromium through Playwright), against real servers.

Each visit records every request the page makes, every JavaScript dialog and every Content-Security-
Policy violation, and checks at the end that there were none it did not expect.
"""

import csv
import io
import json
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from openpyxl import load_workbook

from tests.chromium import CHROMIUM, CHROMIUM_FLAGS

playwright = pytest.importorskip("playwright.sync_api")
expect = playwright.expect

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="make test installs Debian's chromium"),
]

AXE = Path(__file__).parent / "vendor" / "axe-core-4.14.1" / "axe.min.js"
TOKEN = "secret-token-2"  # one of the secured_server fixture's tokens
HOSTILE_NAME = "<img src=x onerror=alert(1)>.json"
PEOPLE = [
    {"name": "Ada", "age": 36, "address": {"city": "London"}, "langs": ["en", "fr"]},
    {"name": "Grace", "age": 85, "address": {"city": "New York"}, "langs": []},
]
# Seen by the page before anything else runs: CSP violations it reports.
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


@dataclass
class Visit:
    """A browser tab on the page, with what it did recorded."""

    page: object
    origin: str
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def assert_well_behaved(self) -> None:
        outside = [url for url in self.requests if not url.startswith(self.origin + "/")]
        assert outside == [], "the page made requests outside its origin"
        assert self.dialogs == [], "a script opened a dialog"
        assert self.errors == [], "the page's script failed"
        assert self.page.evaluate("window.__violations") == []


@pytest.fixture(scope="module")
def browser() -> Iterator:
    with playwright.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def visit(browser):
    """Open the page at a server's / in a fresh context (its own sessionStorage), 1440 px wide."""
    contexts = []

    def open_page(origin: str, width: int = 1440, **options) -> Visit:
        context = browser.new_context(
            accept_downloads=True, viewport={"width": width, "height": 900}, **options
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(30_000)
        if options.get("java_script_enabled", True):
            page.add_init_script(RECORD_VIOLATIONS)
        recorded = Visit(page, origin)
        page.on("request", lambda request: recorded.requests.append(request.url))
        page.on("dialog", lambda dialog: (recorded.dialogs.append(dialog.message), dialog.dismiss()))
        page.on("pageerror", lambda error: recorded.errors.append(str(error)))
        page.goto(origin + "/")
        return recorded

    yield open_page
    for context in contexts:
        context.close()


def unique(stem: str, suffix: str = ".json") -> str:
    return f"{stem}-{uuid.uuid4().hex[:8]}{suffix}"


def write(folder: Path, name: str, document: object) -> Path:
    path = folder / name
    path.write_text(json.dumps(document))
    return path


def drop(page, name: str, text: str) -> None:
    """Drop a file on the upload box, as a person dragging it from their desktop does."""
    files = page.evaluate_handle(
        """([name, text]) => {
            const transfer = new DataTransfer();
            transfer.items.add(new File([text], name, { type: "application/json" }));
            return transfer;
        }""",
        [name, text],
    )
    page.dispatch_event("#drop-zone", "dragover", {"dataTransfer": files})
    page.dispatch_event("#drop-zone", "drop", {"dataTransfer": files})


def row(page, filename: str):
    return page.locator("#datasets tbody tr", has=page.get_by_role("link", name=filename, exact=True))


def dataset_id(page, filename: str) -> str:
    return row(page, filename).get_attribute("data-id")


def downloaded(page, trigger) -> tuple[str, bytes]:
    with page.expect_download() as info:
        trigger.click()
    download = info.value
    return download.suggested_filename, Path(download.path()).read_bytes()


def test_upload_open_download_and_delete(visit, live_server, tmp_path):
    people, second, dropped = unique("people"), unique("second"), unique("dropped", ".jsonl")
    tab = visit(live_server)
    page = tab.page
    page.set_input_files(
        "#file-input", [write(tmp_path, people, PEOPLE), write(tmp_path, second, {"one": "record"})]
    )
    drop(page, dropped, '{"dropped": true}\n{"dropped": false}\n')
    expect(page.locator("#uploads li.done")).to_have_count(3)
    for name in (people, second, dropped):
        expect(row(page, name)).to_be_visible()
        expect(page.locator("#uploads li.done", has_text=name).locator("progress")).to_have_attribute(
            "value", "100"
        )
    expect(page.get_by_role("status")).to_contain_text("uploaded")
    expect(row(page, people).locator("td").nth(2)).to_have_text("json")
    expect(row(page, dropped).locator("td").nth(2)).to_have_text("jsonl")

    row(page, people).get_by_role("link").click()
    heading = page.locator("#dataset-heading")
    expect(heading).to_have_text(people)
    expect(heading).to_be_focused()
    identifier = dataset_id(page, people)
    assert page.url.endswith(f"?dataset={identifier}")
    info = page.locator("#dataset-info")
    expect(info).to_contain_text(identifier)
    expect(info).to_contain_text(f"({len(json.dumps(PEOPLE))} bytes)")

    preview = page.get_by_role("region", name="All 2 rows of data")
    header = preview.locator("thead th")
    expect(header.first).to_have_css("position", "sticky")
    cells = preview.locator("tbody tr").first.locator("td").all_inner_texts()
    first = dict(zip(header.all_inner_texts(), cells, strict=True))
    assert (first["name"], first["age"], first["address.city"]) == ("Ada", "36", "London")
    assert json.loads(first["langs"]) == ["en", "fr"]
    expect(page.get_by_text("2 rows · 4 columns")).to_be_visible()

    name, csv_bytes = downloaded(page, page.get_by_role("link", name="Download data as CSV"))
    assert name == people.removesuffix(".json") + ".csv"
    assert not csv_bytes.startswith(b"\xef\xbb\xbf") and csv_bytes.endswith(b"\r\n")
    table = list(csv.reader(io.StringIO(csv_bytes.decode(), newline="")))
    assert table[0][:3] == ["name", "age", "address.city"]
    assert table[1][:3] == ["Ada", "36", "London"] and table[2][:3] == ["Grace", "85", "New York"]

    name, workbook_bytes = downloaded(page, page.get_by_role("link", name="Download Excel (.xlsx)"))
    assert name == people.removesuffix(".json") + ".xlsx"
    sheet = load_workbook(io.BytesIO(workbook_bytes), read_only=True)["data"]
    cells = [list(values) for values in sheet.iter_rows(values_only=True)]
    assert cells[0][:3] == ["name", "age", "address.city"]
    assert cells[1][:3] == ["Ada", 36, "London"] and cells[2][:3] == ["Grace", 85, "New York"]

    name, original = downloaded(page, page.get_by_role("link", name="Download the original"))
    assert (name, original) == (people, json.dumps(PEOPLE).encode())

    page.get_by_role("button", name="Delete…").click()
    dialog = page.get_by_role("dialog", name="Delete this dataset?")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(people)
    expect(dialog.get_by_role("button", name="Keep it")).to_be_focused()
    page.keyboard.press("Tab")
    expect(dialog.get_by_role("button", name="Delete")).to_be_focused()
    page.keyboard.press("Enter")
    expect(row(page, people)).to_have_count(0)
    expect(page.locator("#dataset")).to_be_hidden()
    expect(page.locator("#datasets-heading")).to_be_focused()
    expect(page.get_by_role("status")).to_have_text(f"Deleted {people}.")
    assert requests.get(f"{live_server}/datasets/{identifier}/").status_code == 404
    assert requests.get(f"{live_server}/datasets/{dataset_id(page, second)}/").status_code == 200
    tab.assert_well_behaved()


def test_the_keyboard_alone_opens_a_dataset_and_escape_keeps_it(visit, live_server, tmp_path):
    name = unique("keyboard")
    created = requests.post(f"{live_server}/datasets/", files={"file": (name, json.dumps(PEOPLE))}).json()
    tab = visit(live_server)
    page = tab.page
    link = row(page, name).get_by_role("link")
    link.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#dataset-heading")).to_be_focused()
    delete = page.get_by_role("button", name="Delete…")
    delete.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Delete this dataset?")
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(delete).to_be_focused()
    assert requests.get(f"{live_server}/datasets/{created['id']}/").status_code == 200
    tab.assert_well_behaved()


def test_an_upload_the_api_refuses_shows_its_message(visit, live_server, tmp_path):
    tab = visit(live_server)
    page = tab.page
    broken = tmp_path / unique("broken")
    broken.write_text("[1, 2")
    page.set_input_files("#file-input", str(broken))
    said = requests.post(f"{live_server}/datasets/", files={"file": (broken.name, "[1, 2")}).json()["message"]
    expect(page.locator("#uploads li.failed")).to_contain_text(f"Not uploaded: {said}")
    expect(page.get_by_role("status")).to_have_text(f"{broken.name} was not uploaded: {said}")
    tab.assert_well_behaved()


def test_with_api_tokens_the_page_asks_once_keeps_the_token_and_forgets_it(visit, secured_server, tmp_path):
    tab = visit(secured_server)
    page = tab.page
    dialog = page.get_by_role("dialog", name="API token needed")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("A valid bearer token is required")
    field_ = dialog.get_by_label("API token")
    expect(field_).to_be_focused()
    field_.fill("not-the-token")
    page.keyboard.press("Enter")
    expect(dialog).to_contain_text("The API refused that token.")
    field_.fill(TOKEN)
    dialog.get_by_role("button", name="Use this token").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_text("Using an API token.")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('datasets-api:token')") == TOKEN

    name = unique("secured")
    page.set_input_files("#file-input", write(tmp_path, name, PEOPLE))
    expect(page.locator("#uploads li.done")).to_have_count(1)
    row(page, name).get_by_role("link").click()
    expect(page.locator("#dataset-heading")).to_have_text(name)
    saved_as, original = downloaded(page, page.get_by_role("link", name="Download the original"))
    assert (saved_as, original) == (name, json.dumps(PEOPLE).encode())
    saved_as, csv_bytes = downloaded(page, page.get_by_role("link", name="Download data as CSV"))
    assert saved_as == name.removesuffix(".json") + ".csv"
    assert csv_bytes.decode().splitlines()[1].startswith("Ada,36,London,")

    page.reload()  # the same tab keeps its token: no question again
    expect(row(page, name)).to_be_visible()
    expect(dialog).to_be_hidden()

    page.get_by_role("button", name="Forget the token").click()
    assert page.evaluate("sessionStorage.getItem('datasets-api:token')") is None
    expect(page.get_by_text("Using an API token.")).to_be_hidden()
    expect(row(page, name)).to_have_count(0)
    expect(page.locator("#datasets-message")).to_contain_text("The token is forgotten")
    page.get_by_role("button", name="Enter an API token").click()
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#datasets-message")).to_contain_text("A valid bearer token is required")

    assert not [url for url in tab.requests if TOKEN in url or "not-the-token" in url]
    tab.assert_well_behaved()


def test_a_hostile_filename_is_shown_as_text_and_runs_nothing(visit, live_server, tmp_path):
    tab = visit(live_server)
    page = tab.page
    page.set_input_files("#file-input", write(tmp_path, HOSTILE_NAME, PEOPLE))
    expect(page.locator("#uploads li.done")).to_have_count(1)
    expect(row(page, HOSTILE_NAME)).to_be_visible()
    row(page, HOSTILE_NAME).get_by_role("link").click()
    expect(page.locator("#dataset-heading")).to_have_text(HOSTILE_NAME)
    assert page.locator("img").count() == 0
    identifier = page.url.rpartition("=")[2]

    # The server's rendering of the list escapes it too: ask for the page of datasets that holds it.
    listed = requests.get(f"{live_server}/datasets/", params={"limit": 1000}).json()["items"]
    before = [item["id"] for item in listed if item["id"] < identifier]
    page.goto(f"{live_server}/?cursor={before[-1]}" if before else f"{live_server}/")
    expect(row(page, HOSTILE_NAME)).to_be_visible()
    assert page.locator("img").count() == 0
    tab.assert_well_behaved()


def test_the_page_works_without_javascript(visit, live_server):
    name = unique("plain")
    requests.post(f"{live_server}/datasets/", files={"file": (name, json.dumps(PEOPLE))})
    listed = requests.get(f"{live_server}/datasets/", params={"limit": 1000}).json()["items"]
    mine = next(index for index, item in enumerate(listed) if item["filename"] == name)
    cursor = f"?cursor={listed[mine - 1]['id']}" if mine else ""
    tab = visit(live_server, java_script_enabled=False)
    page = tab.page
    page.goto(f"{live_server}/{cursor}")
    link = row(page, name).get_by_role("link")
    expect(link).to_have_attribute("href", f"?dataset={listed[mine]['id']}")
    expect(page.get_by_role("button", name="Upload")).to_be_visible()
    expect(page.get_by_label("Choose JSON, JSON Lines or gzip files")).to_be_visible()
    link.click()
    expect(page.locator("#dataset-heading")).to_have_text(name)
    expect(page.locator("#dataset-info")).to_contain_text(f"({len(json.dumps(PEOPLE))} bytes)")
    name_, original = downloaded(page, page.get_by_role("link", name="Download the original"))
    assert (name_, original) == (name, json.dumps(PEOPLE).encode())
    assert page.get_by_role("button", name="Delete…").is_hidden()  # it needs the script

    page.goto(f"{live_server}/?dataset=01M8SQ3MK38Y1FXM2HS98JS0YT")
    expect(page.locator("#dataset-heading")).to_have_text("Dataset not available")
    expect(page.locator("#tables-message")).to_have_text("No dataset with id '01M8SQ3MK38Y1FXM2HS98JS0YT'.")


def test_the_page_has_no_serious_accessibility_violations(visit, live_server, tmp_path):
    name = unique("axe")
    requests.post(f"{live_server}/datasets/", files={"file": (name, json.dumps(PEOPLE))})
    tab = visit(live_server)
    page = tab.page
    page.set_input_files("#file-input", write(tmp_path, unique("axe-upload"), PEOPLE))
    expect(page.locator("#uploads li.done")).to_have_count(1)
    page.locator("#uploads li.done").get_by_role("button").click()
    expect(page.locator("#dataset-heading")).to_be_focused()
    expect(page.get_by_role("region", name="All 2 rows of data")).to_be_visible()  # a preview too
    # Evaluated through the DevTools protocol, not as a page script: the page's CSP stays as it is.
    page.evaluate(AXE.read_text())
    results = page.evaluate("axe.run(document, { resultTypes: ['violations'] })")
    serious = [
        (violation["id"], [node["target"] for node in violation["nodes"]])
        for violation in results["violations"]
        if violation["impact"] in ("serious", "critical")
    ]
    assert serious == []
    tab.assert_well_behaved()


@pytest.mark.parametrize("width", [375, 1440])
def test_the_page_fits_its_width(visit, live_server, tmp_path, width):
    tab = visit(live_server, width=width)
    page = tab.page
    page.set_input_files(
        "#file-input", write(tmp_path, unique("a-rather-long-file-name-for-a-phone"), PEOPLE)
    )
    expect(page.locator("#uploads li.done")).to_have_count(1)
    page.locator("#uploads li.done").get_by_role("button").click()
    expect(page.locator("#dataset-heading")).to_be_focused()
    page.screenshot(path=tmp_path / f"page-{width}.png", full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    tab.assert_well_behaved()


def test_the_page_is_served_with_a_strict_content_security_policy(live_server):
    response = requests.get(f"{live_server}/")
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/html")
    policy = {
        directive.split()[0]: directive.split()[1:]
        for directive in response.headers["Content-Security-Policy"].split("; ")
    }
    for directive in ("default-src", "script-src", "style-src"):
        assert policy[directive] == ["'self'"], directive
    for directive in ("object-src", "base-uri", "frame-ancestors"):
        assert policy[directive] == ["'none'"], directive
    assert "<script>" not in response.text and "style=" not in response.text
    script = requests.get(f"{live_server}/assets/page.js")
    assert script.status_code == 200 and "javascript" in script.headers["Content-Type"]


def test_more_datasets_come_a_page_at_a_time_with_the_focus_on_the_first_new_one(visit, live_server):
    page_size = 100  # the page's, as the API's default
    listed = requests.get(f"{live_server}/datasets/", params={"limit": 1000}).json()["items"]
    names = [unique("paged") for _ in range(max(0, page_size + 1 - len(listed)))]
    with ThreadPoolExecutor(8) as pool:
        list(
            pool.map(
                lambda name: requests.post(f"{live_server}/datasets/", files={"file": (name, "[]")}), names
            )
        )
    tab = visit(live_server)
    page = tab.page
    rows = page.locator("#datasets tbody tr")
    expect(rows).to_have_count(page_size)
    page.get_by_role("button", name="Show more datasets").click()
    expect(rows.nth(page_size).get_by_role("link")).to_be_focused()
    assert rows.count() > page_size
    expect(page.get_by_role("status")).to_contain_text("more datasets shown")
    tab.assert_well_behaved()


def test_the_tables_of_the_records_at_a_root(visit, live_server, tmp_path):
    name = unique("rooted")
    document = {"meta": {"count": 3}, "results": [{"a": 1}, {"a": 2}, {"a": 3}]}
    tab = visit(live_server)
    page = tab.page
    page.set_input_files("#file-input", write(tmp_path, name, document))
    expect(page.locator("#uploads li.done")).to_have_count(1)
    page.locator("#uploads li.done").get_by_role("button").click()
    expect(page.get_by_role("region", name="All 1 row of data")).to_be_visible()  # the whole document
    page.get_by_label("Records at").fill("/results")
    page.keyboard.press("Enter")
    expect(page.locator("#tables-heading")).to_be_focused()
    preview = page.get_by_role("region", name="All 3 rows of data")
    expect(preview.locator("tbody tr td")).to_have_text(["1", "2", "3"])
    assert "root=%2Fresults" in page.url
    _, workbook_bytes = downloaded(page, page.get_by_role("link", name="Download Excel (.xlsx)"))
    sheet = load_workbook(io.BytesIO(workbook_bytes), read_only=True)["data"]
    assert [list(values) for values in sheet.iter_rows(values_only=True)] == [["a"], [1], [2], [3]]
    page.get_by_label("Records at").fill("/nothing")
    page.keyboard.press("Enter")
    expect(page.locator("#tables-message")).to_contain_text(
        "This data cannot become a spreadsheet: root '/nothing'"
    )
    tab.assert_well_behaved()
