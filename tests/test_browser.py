"""The HTML page and the batch report in a real browser: headless Chromium through Selenium.

Each page is opened from disk, screenshotted into ``tmp_path``, and checked for console
errors, for the labels in the DOM, for UTF-8 and for no horizontal overflow. Skipped
where Chromium, its driver (Debian: ``chromium chromium-driver``) or Selenium
(``pip install -e .[browser]``) is missing.
"""
import json
import shutil
from pathlib import Path

import pytest

from nerel_spacy.brat import find_documents, read_brat_document
from nerel_spacy.render import render_doc_html
from nerel_spacy.report import write_report
from nerel_spacy.schema import SPANS_KEY
from nerel_spacy.tokenizer import make_blank_nlp

from brat_fixtures import NEREL_ROOT, TRAIN
from conftest import NEREL_DIR, needs_nerel
from test_report import FIXTURE_IDS, gold_record

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium not installed (pip install -e .[browser])")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
CHROMEDRIVER = shutil.which("chromedriver")
NEREL_DEV = NEREL_DIR / "dev"
WIDTH = 1280

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="headless Chromium not found (Debian: apt-get install chromium chromium-driver)",
)


@pytest.fixture(scope="module")
def browser():
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     f"--window-size={WIDTH},900", "--hide-scrollbars"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def open_page(driver, path: Path, screenshot: Path) -> None:
    """Load ``path``, check it, and save a full-page screenshot."""
    driver.get(path.resolve().as_uri())
    assert driver.execute_script("return document.readyState") == "complete"
    assert driver.execute_script("return document.characterSet") == "UTF-8"
    errors = [entry for entry in driver.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")]
    assert errors == [], errors
    # Nothing sticks out sideways: long texts and tables wrap or scroll inside their panel.
    assert driver.execute_script("return document.documentElement.scrollWidth") <= WIDTH
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(WIDTH, min(height + 120, 12000))
    assert driver.save_screenshot(str(screenshot))
    driver.set_window_size(WIDTH, 900)
    assert screenshot.stat().st_size > 10_000


def test_document_page_in_chromium(browser, tmp_path):
    from selenium.webdriver.common.by import By

    doc = read_brat_document(TRAIN / "obama.txt", nlp=make_blank_nlp())[0]
    page = tmp_path / "obama.html"
    page.write_text(render_doc_html(doc, title="obama.txt"), encoding="utf-8")
    open_page(browser, page, tmp_path / "obama.png")
    marks = browser.find_elements(By.CSS_SELECTOR, "div.entities mark.entity")
    assert len(marks) == len(doc.ents)
    assert {mark.text.split()[-1] for mark in marks if not mark.text.split()[-1].startswith("Q")} <= {
        ent.label_ for ent in doc.ents
    }
    span_text = browser.find_element(By.CSS_SELECTOR, "div.spans").text
    for label in {span.label_ for span in doc.spans[SPANS_KEY]}:
        assert label in span_text  # nested ones too, e.g. COUNTRY inside PROFESSION
    relations = browser.find_elements(By.CSS_SELECTOR, "table.relations tr")
    assert len(relations) == 1 + len(doc._.relations)
    assert "Барак Обама" in browser.find_element(By.TAG_NAME, "body").text


def write_records(path: Path, records) -> Path:
    with open(path, "w", encoding="utf-8") as file:
        for record in records:
            file.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def test_report_in_chromium(browser, tmp_path):
    from selenium.webdriver.common.by import By

    nlp = make_blank_nlp()
    records = [gold_record(i, read_brat_document(NEREL_ROOT / i, nlp=nlp)[0]) for i in FIXTURE_IDS]
    out = write_records(tmp_path / "out.jsonl", records)
    (tmp_path / "out.errors.jsonl").write_text(
        '{"id": "scan.pdf", "reason": "binary", "message": "scan.pdf: binary"}\n', encoding="utf-8"
    )
    write_report(out, tmp_path / "report.html", texts=NEREL_ROOT)
    open_page(browser, tmp_path / "report.html", tmp_path / "report.png")
    charts = browser.find_elements(By.CSS_SELECTOR, "svg.chart")
    assert len(charts) == 4
    bars = charts[0].find_elements(By.TAG_NAME, "rect")
    assert len(bars) == len({m["label"] for r in records for m in r["spans"]})
    assert all(bar.size["width"] > 0 for bar in bars)
    body = browser.find_element(By.TAG_NAME, "body").text
    for label in ("PROFESSION", "WORKS_AS", "binary", "Барак Обама"):
        assert label in body
    assert len(browser.find_elements(By.CSS_SELECTOR, "section.doc div.spans")) == 3


@pytest.mark.nerel
@pytest.mark.slow
@needs_nerel
def test_nerel_dev_report_in_chromium(browser, tmp_path):
    """The report over NEREL dev's gold annotation as records: the screenshot in docs/img."""
    from selenium.webdriver.common.by import By

    nlp = make_blank_nlp()
    records = [
        gold_record(path.name, read_brat_document(path, nlp=nlp)[0]) for path in find_documents(NEREL_DEV)
    ]
    out = write_records(tmp_path / "dev.jsonl", records)
    write_report(out, tmp_path / "report.html", texts=NEREL_DEV, title="NEREL dev (gold) as annotate records")
    open_page(browser, tmp_path / "report.html", tmp_path / "report.png")
    totals = browser.find_element(By.CSS_SELECTOR, "table.totals").text
    assert "documents annotated 94" in totals
    entity_chart, relation_chart = browser.find_elements(By.CSS_SELECTOR, "svg.chart")[:2]
    assert len(entity_chart.find_elements(By.TAG_NAME, "rect")) == 29
    assert len(relation_chart.find_elements(By.TAG_NAME, "rect")) == 49
