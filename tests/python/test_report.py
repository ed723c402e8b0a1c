"""`image-quality report` end to end: a real scored warehouse, the real CLI, a real browser.

One warehouse is built per module with the real CLI (``image-quality demo-data``,
then ``image-quality run`` twice, in a copy of the dbt project): the first run
sees the demo photographs plus a near-duplicate pair and a byte copy; between
the runs one file is blurred (so it changes and is relabelled), one removed and
three added, two with hostile names. After the second run one original is
deleted and one replaced by a FIFO, so the report meets a missing and an
unreadable original. What the report shows is compared with the marts and with
what the fixture did, in headless Chromium (Debian's ``chromium`` package,
driven by Playwright); screenshots go to build/report-screenshots/.
"""

from __future__ import annotations

import os
import shutil
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import cv2
import duckdb
import numpy as np
import pytest

from conftest import REPO, query, run_cli, write_jpeg, write_png_libpng_warns_about
from dbt_run import copy_project

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = REPO / "build" / "report-screenshots"
DEMO_IMAGES = 24
BROWSER_LIMIT = 4   # cards per gallery in the browser test's report: small, so truncation is exercised
HOSTILE_NAMES = ("<script>.jpg", "<img src=x onerror=alert(1)> & \"q\".jpg")


@dataclass
class Scenario:
    root: Path
    db: Path
    images: Path
    project: Path
    labels_after_run1: dict[str, str | None]
    labels_after_run2: dict[str, str | None]
    added: set[str]
    changed: set[str]
    removed: set[str]
    missing: str
    unreadable: str
    near_duplicate_base: str
    near_duplicate_copies: set[str]
    not_an_image: str


def _labels(db: Path) -> dict[str, str | None]:
    return dict(query(db, "select path, quality_label from marts.image_quality"))


def _run(images: Path, db: Path, project: Path) -> None:
    done = run_cli("run", str(images), "--db", str(db), "--workers", "2", "--quiet",
                   "--project-dir", str(project), env={"DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


@pytest.fixture(scope="module")
def scenario(tmp_path_factory, photos) -> Scenario:
    root = tmp_path_factory.mktemp("report")
    images = root / "images"
    done = run_cli("demo-data", str(images), "--n", str(DEMO_IMAGES), "--seed", "0")
    assert done.returncode == 0, done.stderr
    extra = images / "extra"
    extra.mkdir()
    base = sorted(images.glob("*_china_*.jpg"))[0]   # a demo photograph of sklearn's china, whatever its degradation
    pixels = cv2.imdecode(np.frombuffer(base.read_bytes(), np.uint8), cv2.IMREAD_COLOR)
    half = cv2.resize(pixels, (pixels.shape[1] // 2, pixels.shape[0] // 2), interpolation=cv2.INTER_AREA)
    write_jpeg(extra / "china_half_size.jpg", half, quality=80)        # a near duplicate
    shutil.copy2(base, extra / "china_byte_copy.jpg")                  # the same bytes
    flower = photos["flower"]
    write_jpeg(extra / "to_delete.jpg", flower[:300, :400])
    write_jpeg(extra / "to_make_unreadable.jpg", flower[100:400, 100:500])
    write_jpeg(extra / "removed_before_run2.jpg", flower[50:350, 0:400])
    (extra / "not_an_image.jpg").write_bytes(b"minutes of the meeting, saved as .jpg\n")   # a failure, with its reason
    write_png_libpng_warns_about(extra / "with_icc_profile.png", flower[:240, :320])      # libpng warns on decode
    project = copy_project(root / "project")
    db = root / "warehouse.duckdb"
    _run(images, db, project)
    labels1 = _labels(db)

    # between the runs: one blurred (changed, and it should be relabelled), one removed, three added
    # a demo photograph made sharp that the shipped model (whichever it is) calls sharp; not the
    # near-duplicate base, whose copies must stay copies
    sharp = next(Path(p) for p, label in sorted(labels1.items())
                 if label == "sharp" and Path(p).parent == images and Path(p) != base)
    img = cv2.imdecode(np.frombuffer(sharp.read_bytes(), np.uint8), cv2.IMREAD_COLOR)
    write_jpeg(sharp, cv2.GaussianBlur(img, (0, 0), 6))
    (extra / "removed_before_run2.jpg").unlink()
    china = photos["china"]
    added = [write_jpeg(extra / HOSTILE_NAMES[0], china[:300, :400]),
             write_jpeg(extra / HOSTILE_NAMES[1], china[100:400, 200:600]),
             write_jpeg(extra / "new_after_run1.jpg", china[50:350, 300:700])]
    _run(images, db, project)
    labels2 = _labels(db)

    # after the last run: the report meets a missing and an unreadable original
    (extra / "to_delete.jpg").unlink()
    (extra / "to_make_unreadable.jpg").unlink()
    os.mkfifo(extra / "to_make_unreadable.jpg")
    return Scenario(root, db, images, project, labels1, labels2,
                    added={str(p) for p in added}, changed={str(sharp)},
                    removed={str(extra / "removed_before_run2.jpg")},
                    missing=str(extra / "to_delete.jpg"), unreadable=str(extra / "to_make_unreadable.jpg"),
                    near_duplicate_base=str(base),
                    near_duplicate_copies={str(extra / "china_half_size.jpg"), str(extra / "china_byte_copy.jpg")},
                    not_an_image=str(extra / "not_an_image.jpg"))


def _report(scenario: Scenario, out: Path, *args: str) -> list[str]:
    done = run_cli("report", "--db", str(scenario.db), "--out", str(out), *args)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == ""   # no decoder's warning either (with_icc_profile.png makes libpng warn)
    lines = done.stdout.strip().splitlines()
    assert lines[-1] == f"report: {(out / 'index.html').resolve()}"
    return lines


def _stats_line(lines: list[str]) -> str:
    return next(line for line in lines if "thumbnails:" in line)


# --- without a browser ------------------------------------------------------------------


@pytest.mark.slow
def test_report_reads_the_marts_and_marks_missing_and_unreadable_originals(scenario, tmp_path):
    from image_quality.report import write_report

    result = write_report(str(scenario.db), tmp_path / "site")
    cards = {c.path: c for c in result.data.all_cards()}
    assert result.data.image_count == len(scenario.labels_after_run2)
    missing, unreadable = cards[scenario.missing], cards[scenario.unreadable]
    assert missing.thumbnail == "placeholder.svg" and "missing" in missing.note
    assert unreadable.thumbnail == "placeholder.svg" and "not a regular file" in unreadable.note
    failure = cards[scenario.not_an_image]
    assert failure.thumbnail == "placeholder.svg" and "cannot be decoded" in failure.note
    good = [c for c in cards.values() if c.path not in (scenario.missing, scenario.unreadable, scenario.not_an_image)
            and c.path not in scenario.removed]
    assert good and all(c.thumbnail.startswith("thumbnails/") and c.note is None for c in good)
    for card in good:
        thumb = cv2.imread(str(tmp_path / "site" / card.thumbnail))
        original = cv2.imread(card.path)
        assert thumb is not None, card.path
        # long side about 256 px, never enlarged; the original's shape kept
        assert max(thumb.shape[:2]) == min(256, max(original.shape[:2])), (card.path, thumb.shape)
        assert abs(thumb.shape[1] / thumb.shape[0] - original.shape[1] / original.shape[0]) < 0.02, card.path


@pytest.mark.slow
def test_thumbnails_follow_exif_orientation(tmp_path, photos):
    """A JPEG stored landscape with EXIF orientation 6 (rotate 90) gets a portrait thumbnail."""
    from PIL import Image

    from image_quality.measuring import content_hash
    from image_quality.report.thumbnails import make_thumbnails

    landscape = photos["china"][:300, :600]
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(cv2.cvtColor(landscape, cv2.COLOR_BGR2RGB)).save(path, exif=exif.tobytes(), quality=92)
    digest = content_hash(path.read_bytes())
    made, stats = make_thumbnails(tmp_path / "site", {digest: [str(path)]})
    assert stats.made == 1 and made[digest].note is None
    thumb = cv2.imread(str(tmp_path / "site" / made[digest].src))
    assert thumb.shape[:2] == (256, 128)  # portrait: 600x300 turned upright, long side 256


@pytest.mark.slow
def test_a_second_report_over_an_unchanged_warehouse_reads_no_original(scenario, tmp_path):
    out = tmp_path / "site"
    first = _stats_line(_report(scenario, out))
    thumbs = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in (out / "thumbnails").iterdir()}
    html_before = (out / "index.html").read_text()
    assert thumbs and "0 from cache" in first
    moved = scenario.images.with_name("images-moved-away")
    scenario.images.rename(moved)  # every original out of reach: a report that opened one would show a placeholder
    try:
        second = _stats_line(_report(scenario, out))
    finally:
        moved.rename(scenario.images)
    assert f"0 made, {len(thumbs)} from cache" in second, (first, second)
    assert {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in (out / "thumbnails").iterdir()} == thumbs
    html_after = (out / "index.html").read_text()
    assert html_after.count('src="thumbnails/') == html_before.count('src="thumbnails/') > 0
    assert html_after.count('src="placeholder.svg"') == html_before.count('src="placeholder.svg"')


@pytest.mark.slow
def test_what_changed_is_what_the_fixture_did(scenario, tmp_path):
    from image_quality.report import write_report

    data = write_report(str(scenario.db), tmp_path / "site", limit=100).data
    changes = {g.key: g for g in data.changes}
    assert {c.path for c in changes["change-new"].cards} == scenario.added
    assert {c.path for c in changes["change-changed"].cards} == scenario.changed
    assert {c.path for c in changes["change-removed"].cards} == scenario.removed
    # relabelled: the label each path had after run 1 against its label now (both read from the marts)
    relabelled = {p for p, label in scenario.labels_after_run2.items()
                  if p in scenario.labels_after_run1 and scenario.labels_after_run1[p] != label}
    assert relabelled == scenario.changed, "the blurred photograph should have been relabelled"
    cards = changes["change-relabelled"].cards
    assert {c.path for c in cards} == relabelled
    assert all(c.badge == f"was {scenario.labels_after_run1[c.path]}" for c in cards)
    assert changes["change-relabelled"].total == len(relabelled)


@pytest.mark.slow
def test_near_duplicates_are_one_cluster_with_the_largest_image_as_keeper(scenario, tmp_path):
    from image_quality.report import write_report

    data = write_report(str(scenario.db), tmp_path / "site").data
    members = {scenario.near_duplicate_base} | scenario.near_duplicate_copies
    clusters = [c for c in data.clusters if members & {card.path for card in c.cards}]
    assert len(clusters) == 1
    assert {card.path for card in clusters[0].cards} == members
    # full size beats the half-size copy; between the two full-size byte copies, the first path
    assert clusters[0].cards[0].path == scenario.near_duplicate_base
    assert clusters[0].cards[0].badge == "suggested keeper"
    assert [c.badge for c in clusters[0].cards[1:]] == [None, None]


@pytest.mark.slow
def test_feature_plots_are_svg_one_per_model_feature(scenario, tmp_path):
    _report(scenario, tmp_path / "site")
    features = [f for (f,) in query(scenario.db, "select distinct feature from model.gaussian_nb_params")]
    plots = sorted((tmp_path / "site" / "plots").glob("*.svg"))
    assert {p.name for p in plots if p.name.startswith("feature_")} == {f"feature_{f}.svg" for f in features}
    for plot in plots:
        assert ET.parse(plot).getroot().tag == "{http://www.w3.org/2000/svg}svg"
    assert f'src="plots/feature_{features[0]}.svg"' in (tmp_path / "site" / "index.html").read_text()


def test_a_report_that_cannot_start_says_why_in_one_line(tmp_path):
    done = run_cli("report", "--db", str(tmp_path / "nowhere" / "w.duckdb"), "--out", str(tmp_path / "site"))
    assert done.returncode == 1 and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and "does not exist" in done.stderr

    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    done = run_cli("report", "--db", str(empty), "--out", str(tmp_path / "site"))
    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1 and "image-quality run" in done.stderr


@pytest.mark.slow
def test_failures_are_a_gallery_with_their_reason(scenario, tmp_path):
    from image_quality.report import write_report

    data = write_report(str(scenario.db), tmp_path / "site").data
    expected = {p for (p,) in query(scenario.db, "select path from marts.image_quality where score_status <> 'scored'")}
    assert scenario.not_an_image in expected
    assert data.failures.total == len(expected)
    assert {c.path for c in data.failures.cards} == expected
    card = next(c for c in data.failures.cards if c.path == scenario.not_an_image)
    measures = dict(card.measures)
    assert card.label == "not_measured"
    assert measures["error_kind"] == "not_an_image" and measures["error_message"]
    html = (tmp_path / "site" / "index.html").read_text()
    assert 'href="#failures">(not_measured)</a>' in html


# --- in a real browser --------------------------------------------------------------------


def _browser(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)


@pytest.fixture(scope="module")
def page_of(scenario, tmp_path_factory):
    """Open the report (written with --limit BROWSER_LIMIT) in headless Chromium; yields (page, messages)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("browser tests need Playwright's Python package: pip install -e '.[test]'")
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"browser tests need Chromium at {CHROMIUM}: apt-get install -y chromium")
    out = tmp_path_factory.mktemp("report-site") / "site"
    _report(scenario, out, "--limit", str(BROWSER_LIMIT))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = _browser(playwright)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        messages: list[str] = []
        page.on("console", lambda m: messages.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: messages.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: messages.append(f"request failed: {r.url} {r.failure}"))
        page.on("dialog", lambda d: (messages.append(f"dialog: {d.message}"), d.dismiss()))
        page.goto((out / "index.html").resolve().as_uri(), wait_until="load")
        page.screenshot(path=str(SCREENSHOTS / "report-top.png"))
        page.screenshot(path=str(SCREENSHOTS / "report-full.png"), full_page=True)
        yield page, messages
        browser.close()


@pytest.mark.slow
def test_every_thumbnail_and_plot_loads_in_chromium(page_of):
    page, _ = page_of
    images = page.evaluate("""Array.from(document.images).map(i => [i.getAttribute('src'), i.complete, i.naturalWidth])""")
    assert images
    assert [i for i in images if not (i[1] and i[2] > 0)] == []
    assert any(src.startswith("thumbnails/") for src, _, _ in images)
    assert any(src.startswith("plots/") for src, _, _ in images)


@pytest.mark.slow
def test_counts_on_the_page_match_the_marts(page_of, scenario):
    page, _ = page_of
    labels = dict(page.eval_on_selector_all("#label-counts td[data-label]",
                                            "cells => cells.map(c => [c.dataset.label, Number(c.textContent)])"))
    expected = dict(query(scenario.db, """select coalesce(quality_label, '(' || score_status || ')'), count(*)
                                            from marts.image_quality group by 1"""))
    assert labels == expected
    assert int(page.inner_text("#image-count")) == sum(expected.values()) == len(scenario.labels_after_run2)

    check_columns = [c for (c,) in query(scenario.db, """select column_name from information_schema.columns
        where table_schema = 'marts' and table_name = 'image_quality' and column_name like 'is\\_%' escape '\\'
          and data_type = 'BOOLEAN'""")]
    checks = dict(page.eval_on_selector_all("#check-counts td[data-check]",
                                            "cells => cells.map(c => [c.dataset.check, Number(c.textContent)])"))
    assert checks == {c[3:]: query(scenario.db, f"select count(*) from marts.image_quality where {c}")[0][0]
                      for c in check_columns}

    galleries = page.eval_on_selector_all(
        "section.gallery", "s => s.map(g => [g.id, Number(g.dataset.total), g.querySelectorAll('.card').length])")
    by_id = {g: (total, shown) for g, total, shown in galleries}
    for label, n in expected.items():
        if not label.startswith("("):
            assert by_id[f"label-{label}"] == (n, min(n, BROWSER_LIMIT)), label
    for check, n in checks.items():
        assert by_id[f"check-{check}"] == (n, min(n, BROWSER_LIMIT)), check
    assert by_id["change-new"] == (len(scenario.added), min(len(scenario.added), BROWSER_LIMIT))
    runs = page.eval_on_selector_all("#runs tr[data-run]", "rows => rows.map(r => Number(r.dataset.run))")
    assert runs == [r for (r,) in query(scenario.db, "select run_id from marts.load_runs order by run_id desc")]
    assert page.inner_text("#model-version") == query(
        scenario.db, "select distinct model_version from model.gaussian_nb_params")[0][0]


def _paged_galleries(db: Path) -> dict[str, tuple[str, str]]:
    """gallery id -> (where, order) of the images it must show, worst first, from the marts."""
    columns = {c for (c,) in query(db, """select column_name from information_schema.columns
                                          where table_schema = 'marts' and table_name = 'image_quality'""")}
    from image_quality.report.marts import CHECK_ORDER

    galleries = {}
    for (label,) in query(db, "select distinct class_label from model.gaussian_nb_params"):
        galleries[f"label-{label}"] = (f"quality_label = '{label}'", f"p_{label} desc, path")
    for column in (c for c in columns if c.startswith("is_")):
        measure, direction = CHECK_ORDER[column[3:]]
        galleries[f"check-{column[3:]}"] = (column, f"{measure} {direction} nulls last, failed_check_count desc, path")
    galleries["failures"] = ("score_status <> 'scored'", "error_kind nulls last, score_status, path")
    return galleries


@pytest.mark.slow
def test_every_flagged_image_is_on_some_page_worst_first(page_of, scenario):
    """Following each gallery's "next" links in Chromium from index.html reaches every image it holds, in order."""
    page, messages = page_of
    index = page.url.split("#")[0]
    reached_more_than_one_page = 0
    for gallery, (where, order) in _paged_galleries(scenario.db).items():
        expected = [p for (p,) in query(scenario.db, f"select path from marts.image_quality where {where} order by {order}")]
        page.goto(f"{index}#{gallery}", wait_until="load")
        shown, pages = [], 0
        while True:
            section = page.locator(f"section#{gallery}")
            cards = section.locator(".card .path").all_inner_texts()
            assert len(cards) <= BROWSER_LIMIT, (gallery, pages)
            shown += cards
            pages += 1
            broken = page.evaluate("Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).length")
            assert broken == 0, (gallery, pages)
            following = section.locator("nav.pager a[rel=next]")
            if not following.count():
                break
            following.first.click()
            page.wait_for_load_state("load")
        assert shown == expected, gallery   # every image, once, worst first across the pages
        assert pages == max(1, -(-len(expected) // BROWSER_LIMIT)), gallery
        reached_more_than_one_page += pages > 1
        if gallery == "label-blurry" and pages > 1:
            page.screenshot(path=str(SCREENSHOTS / "report-gallery-last-page.png"), full_page=True)
    assert reached_more_than_one_page >= 3   # the collection is larger than one page in several galleries
    assert messages == []
    page.goto(index, wait_until="load")


@pytest.mark.slow
def test_hostile_file_names_render_as_text(page_of, scenario):
    page, messages = page_of
    shown = page.eval_on_selector_all("#change-new .path", "codes => codes.map(c => c.textContent)")
    assert scenario.added <= set(shown)
    assert page.evaluate("document.querySelectorAll('script').length") == 0
    assert page.evaluate("document.querySelectorAll('img[src=\"x\"]').length") == 0
    assert not [m for m in messages if m.startswith("dialog")]
    # each thumbnail links to its original: the exact path, percent-encoded, never markup
    links = page.eval_on_selector_all("#change-new .card a", "links => links.map(a => a.href)")
    assert {Path(p).as_uri() for p in scenario.added} <= set(links)
    card = page.locator("#change-new .card", has_text=HOSTILE_NAMES[0])
    card.scroll_into_view_if_needed()
    card.screenshot(path=str(SCREENSHOTS / "hostile-name-card.png"))


@pytest.mark.slow
def test_the_console_shows_no_errors(page_of):
    page, messages = page_of
    page.reload(wait_until="load")
    assert messages == []


@pytest.mark.slow
def test_a_retrained_model_with_other_classes_and_features_reports_with_no_edit(scenario, tmp_path):
    """Classes, features and relabels follow the seed dbt scored with: nothing about the model is in the report."""
    import csv

    from dbt_run import copy_db, run_dbt

    from image_quality.lab import training
    from image_quality.report import write_report

    db = copy_db(scenario.db, tmp_path / "retrained.duckdb")
    project = copy_project(tmp_path / "project")
    labels = tmp_path / "labels.csv"
    with open(scenario.images / "labels.csv", newline="") as src, open(labels, "w", newline="") as dest:
        out = csv.writer(dest, lineterminator="\n")
        out.writerow(["path", "label"])
        for row in csv.DictReader(src):
            path = str(scenario.images / row["path"])
            if row["label"] != "moire" and path not in scenario.changed:
                out.writerow([path, row["label"]])
    features = {"laplacian_var": "ln_x_plus_1", "grey_entropy": "identity"}
    summary = training.train_model(str(db), str(labels), str(project / "seeds" / "gaussian_nb_params.csv"),
                                   features=features)
    assert summary["classes"] == ["blurry", "sharp"]
    code, output = run_dbt(project, db, "build")
    assert code == 0, output[-3000:]

    data = write_report(str(db), tmp_path / "site", limit=100).data
    assert data.model.version == summary["model_version"]
    assert [g.key for g in data.label_galleries] == ["label-blurry", "label-sharp"]
    assert {n for g in data.label_galleries for c in g.cards for n, _ in c.probabilities} == {"blurry", "sharp"}
    assert {n for g in data.label_galleries for c in g.cards for n, _ in c.measures} == set(features)
    plots = {p.name for p in (tmp_path / "site" / "plots").glob("feature_*.svg")}
    assert plots == {f"feature_{f}.svg" for f in features}
    # relabelled: the label each path had after run 1 (scored before run 2 began) against the new model's
    now = _labels(db)
    expected = {p for p, label in now.items()
                if p in scenario.labels_after_run1 and scenario.labels_after_run1[p] != label}
    assert any(scenario.labels_after_run1[p] == "moire" for p in expected)
    relabelled = next(g for g in data.changes if g.key == "change-relabelled")
    assert relabelled.total == len(expected)
    assert {c.path for c in relabelled.cards} == expected
