"""Swagger UI in a real browser: a person uploads a file through "Try it out"."""

import pytest
import requests

from tests.chromium import CHROMIUM, CHROMIUM_FLAGS

playwright = pytest.importorskip("playwright.sync_api")


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="make test installs Debian's chromium")
def test_a_file_uploaded_in_swagger_ui_is_stored(live_server, tmp_path):
    upload = tmp_path / "from-the-browser.json"
    upload.write_text('[{"name": "Ada", "langs": ["en", "fr"]}]')
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page()
        page.goto(f"{live_server}/docs")
        operation = page.locator("#operations-datasets-post_dataset_list")
        operation.locator(".opblock-summary").click()
        operation.get_by_role("button", name="Try it out").click()
        operation.locator('input[type="file"]').set_input_files(str(upload))
        operation.get_by_role("button", name="Execute").click()
        status = operation.locator(".live-responses-table tbody .response-col_status").first
        status.wait_for(timeout=30_000)
        assert status.inner_text().strip() == "201"
        body = operation.locator(
            ".live-responses-table tbody .response-col_description pre"
        ).first.inner_text()
        browser.close()
    listed = requests.get(f"{live_server}/datasets/", params={"limit": 1000}).json()["items"]
    mine = [item for item in listed if item["filename"] == "from-the-browser.json"]
    assert mine and mine[-1]["id"] in body
    assert mine[-1]["size"] == upload.stat().st_size


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="make test installs Debian's chromium")
def test_swagger_ui_authorize_says_what_to_type_and_that_works(secured_server):
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page()
        page.goto(f"{secured_server}/docs")
        page.get_by_role("button", name="Authorize").first.click()
        dialog = page.locator(".auth-container").first
        instructions = dialog.inner_text()
        dialog.locator("input").fill("Bearer secret-token-1")
        dialog.get_by_role("button", name="Authorize").click()
        page.get_by_role("button", name="Close").click()
        operation = page.locator("#operations-datasets-get_dataset_list")
        operation.locator(".opblock-summary").click()
        operation.get_by_role("button", name="Try it out").click()
        operation.get_by_role("button", name="Execute").click()
        status = operation.locator(".live-responses-table tbody .response-col_status").first
        status.wait_for(timeout=30_000)
        answered = status.inner_text().strip()
        browser.close()
    assert "Type Bearer <token>" in instructions
    assert answered == "200"
