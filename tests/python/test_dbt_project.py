"""End to end: the real loader on real photographs, then the dbt project on its warehouse.

One warehouse is built per module (demo photographs -> ``image-quality extract``
-> ``dbt build``) and each test works on copies of it, in a copy of the dbt
project, so tests neither collide with each other nor touch the repository's
target/, logs/ or seeds/.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
try:
    from image_quality.lab import training
except ImportError:  # running from a checkout that is not installed
    sys.path.insert(0, str(REPO / "extract"))
    from image_quality.lab import training

pytestmark = pytest.mark.slow

PROJECT_FILES = ("dbt_project.yml", "profiles.yml")
PROJECT_DIRS = ("models", "macros", "seeds", "tests", "analyses")
DEMO_IMAGES = 30
ADDED_IMAGES = 5
PARITY_TOLERANCE = 1e-9
DBT_TIMEOUT_S = 600


# --- helpers -----------------------------------------------------------------------


@dataclass
class DbtResult:
    returncode: int
    output: str
    results: list[dict]
    invocation_id: str | None

    def statuses(self) -> dict[str, str]:
        """unique_id -> status of every node the invocation ran."""
        return {r["unique_id"]: r["status"] for r in self.results}

    def failed(self) -> list[str]:
        return sorted(u for u, s in self.statuses().items() if s in ("fail", "error"))


def _env(db: Path) -> dict[str, str]:
    env = dict(os.environ, IMAGE_QUALITY_DB=str(db), DBT_SEND_ANONYMOUS_USAGE_STATS="false")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "extract"), env.get("PYTHONPATH")]))
    return env


def copy_project(dest: Path) -> Path:
    """A copy of the dbt project (without the Python tests) in ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        shutil.copy2(REPO / name, dest / name)
    ignore = shutil.ignore_patterns("python", "__pycache__", "*.pyc")
    for name in PROJECT_DIRS:
        shutil.copytree(REPO / name, dest / name, ignore=ignore)
    return dest


def copy_db(src: Path, dest: Path) -> Path:
    shutil.copy2(src, dest)
    wal = Path(f"{src}.wal")
    if wal.exists():
        shutil.copy2(wal, Path(f"{dest}.wal"))
    return dest


def dbt(project: Path, db: Path, *args: str) -> DbtResult:
    """Run dbt on ``project`` against ``db``, with target and logs inside the project copy."""
    target = project / "target"
    # `source freshness` writes sources.json, everything else run_results.json
    results_file = target / ("sources.json" if args[:2] == ("source", "freshness") else "run_results.json")
    results_file.unlink(missing_ok=True)
    command = [sys.executable, "-m", "dbt.cli.main", *args,
               "--project-dir", str(project), "--profiles-dir", str(project),
               "--target-path", str(target), "--log-path", str(project / "logs")]
    done = subprocess.run(command, env=_env(db), cwd=project, capture_output=True, text=True,
                          timeout=DBT_TIMEOUT_S)
    results, invocation = [], None
    if results_file.exists():
        data = json.loads(results_file.read_text())
        results, invocation = data["results"], data["metadata"]["invocation_id"]
    return DbtResult(done.returncode, done.stdout + done.stderr, results, invocation)


def image_quality_cli(*args: str, db: Path | None = None) -> str:
    command = [sys.executable, "-m", "image_quality.cli", *args]
    if db is not None:
        command += ["--db", str(db)]
    done = subprocess.run(command, env=_env(db or Path("unused.duckdb")), capture_output=True,
                          text=True, timeout=DBT_TIMEOUT_S)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def extract(sources: list[Path], db: Path) -> None:
    image_quality_cli("extract", *map(str, sources), "--workers", "2", "--quiet", db=db)


def query(db: Path, sql: str, params=None) -> list[tuple]:
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def execute(db: Path, *statements: str) -> None:
    import duckdb

    con = duckdb.connect(str(db))
    try:
        for statement in statements:
            con.execute(statement)
    finally:
        con.close()


def sql_vs_sklearn(db: Path, seed_csv: Path) -> tuple[float, int, int]:
    """(max |p_sql - p_sklearn|, label mismatches, rows) over every row of marts.image_scores."""
    clf, features, transforms, version = training.load_gaussian_nb(str(seed_csv))
    p_columns = [f"p_{c}" for c in clf.classes_]
    rows = query(db, f"""select {", ".join(features)}, {", ".join(p_columns)}, quality_label, model_version
                           from marts.image_scores order by content_hash""")
    assert rows, "image_scores is empty"
    assert {r[-1] for r in rows} == {version}
    n = len(features)
    X = np.array([r[:n] for r in rows], dtype=np.float64)
    p_sql = np.array([r[n:n + len(p_columns)] for r in rows], dtype=np.float64)
    Xt = training.transform_features(X, transforms)
    p_sklearn = clf.predict_proba(Xt)
    mismatches = int(np.sum(clf.predict(Xt) != np.array([r[-2] for r in rows], dtype=object)))
    return float(np.max(np.abs(p_sql - p_sklearn))), mismatches, len(rows)


def assert_all_passed(result: DbtResult) -> None:
    assert result.returncode == 0, result.output[-5000:]
    bad = {u: s for u, s in result.statuses().items()
           if s not in ("success", "pass") and not (u.startswith("exposure.") and s == "no-op")}
    assert not bad, bad


def assert_fails_naming(result: DbtResult, *fragments: str) -> None:
    assert result.returncode != 0, "dbt passed on bad data"
    failed = result.failed()
    for fragment in fragments:
        assert any(fragment in unique_id for unique_id in failed), (fragment, failed)


# --- the shared warehouse ---------------------------------------------------------------


@dataclass
class Built:
    root: Path
    project: Path
    db: Path
    images: Path
    labels: Path
    build: DbtResult


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Built:
    root = tmp_path_factory.mktemp("dbt_project")
    images = root / "images"
    image_quality_cli("demo-data", str(images), "--n", str(DEMO_IMAGES), "--seed", "0")
    db = root / "warehouse.duckdb"
    extract([images], db)
    project = copy_project(root / "project")
    build = dbt(project, db, "build")
    return Built(root, project, db, images, images / "labels.csv", build)


# --- tests ----------------------------------------------------------------------------------


def test_build_passes_every_model_and_test(built):
    assert_all_passed(built.build)
    kinds = [u.split(".")[0] for u in built.build.statuses()]
    # every model in the project ran (counted from the tree, so adding a model needs no edit here)
    assert kinds.count("model") == len(list((REPO / "models").rglob("*.sql"))) >= 22
    assert kinds.count("seed") == 2
    assert kinds.count("test") >= 100
    # the singular parity test and our generic tests ran
    ran = set(built.build.statuses())
    for fragment in ("assert_gaussian_nb_matches_sklearn_golden_set", "finite_and_within",
                     "image_scores_probabilities_sum_to_one", "image_scores_probabilities_in_unit_interval"):
        assert any(fragment in u for u in ran), fragment

    paths = query(built.db, "select count(*) from raw.files where valid_to_run is null")[0][0]
    assert paths == DEMO_IMAGES
    rows = query(built.db, """select count(*), count(distinct path), count(*) filter (where score_status = 'scored')
                                from marts.image_quality""")[0]
    assert rows == (DEMO_IMAGES, DEMO_IMAGES, DEMO_IMAGES)


def test_sql_probabilities_equal_sklearn_predict_proba(built):
    max_diff, mismatches, rows = sql_vs_sklearn(built.db, built.project / "seeds" / "gaussian_nb_params.csv")
    assert rows == DEMO_IMAGES
    assert max_diff <= PARITY_TOLERANCE, max_diff
    assert mismatches == 0


def test_image_quality_exposes_the_contract(built):
    columns = [r[0] for r in query(built.db, """select column_name from information_schema.columns
                                                where table_schema = 'marts' and table_name = 'image_quality'""")]
    for column in ("path", "content_hash", "quality_label", "p_sharp", "p_blurry", "p_moire", "score_status",
                   "error_kind", "error_message", "width", "height", "brightness_mean",
                   "model_version", "first_seen_at", "last_changed_at", "source_root"):
        assert column in columns, column
    # the model's features, whatever the seed names, with the values the model scored
    features = [f for (f,) in query(built.db, "select distinct feature from model.gaussian_nb_params order by 1")]
    assert features and set(features) <= set(columns), sorted(set(features) - set(columns))
    differing = query(built.db, f"""select count(*) from marts.image_quality q join marts.image_scores s using (content_hash)
                                     where {' or '.join(f'q.{f} is distinct from s.{f}' for f in features)}""")
    assert differing == [(0,)]
    # no measure the model does not read stands in for its features
    unused = {"laplacian_var", "sobel_x_var", "sobel_y_var", "fft_hf_mean", "texture_excess_max", "blur_effect_min"}
    assert not (unused - set(features)) & set(columns), sorted((unused - set(features)) & set(columns))
    # the labels are the ones the scores table holds for the path's content
    mismatched = query(built.db, """select count(*) from marts.image_quality q
                                      join marts.image_scores s using (content_hash)
                                     where q.quality_label <> s.quality_label or q.p_sharp <> s.p_sharp""")
    assert mismatched == [(0,)]


def test_a_file_that_is_not_an_image_says_why_in_image_quality(built):
    """A folder with one non-image file, through `image-quality run`: its row says not_an_image and why."""
    folder = built.root / "not_images"
    folder.mkdir()
    (folder / "notes.jpg").write_bytes(b"meeting notes, saved with the wrong extension\n")
    db = built.root / "not_an_image.duckdb"
    image_quality_cli("run", str(folder), "--quiet", "--workers", "1", "--project-dir", str(built.project), db=db)
    rows = query(db, """select path, score_status, error_kind, error_message, quality_label
                           from marts.image_quality""")
    assert len(rows) == 1
    path, status, kind, message, label = rows[0]
    assert path.endswith("/notes.jpg")
    assert (status, kind, label) == ("not_measured", "not_an_image", None)
    assert message == query(db, "select message from raw.extract_errors where path = ?", [path])[0][0]
    assert message.strip()
    # a scored image carries no error
    assert query(built.db, """select count(*) from marts.image_quality
                                where score_status = 'scored' and (error_kind is not null or error_message is not null)""") == [(0,)]


def test_adding_images_scores_exactly_the_new_ones(built):
    db = copy_db(built.db, built.root / "add.duckdb")
    more = built.root / "more_images"
    image_quality_cli("demo-data", str(more), "--n", str(ADDED_IMAGES), "--seed", "1")
    extract([more], db)
    new_hashes = {r[0] for r in query(db, "select content_hash from raw.files where starts_with(path, ?)",
                                      [str(more.resolve()) + "/"])}
    assert len(new_hashes) == ADDED_IMAGES

    second = dbt(built.project, db, "build")
    assert_all_passed(second)
    scored_now = {r[0] for r in query(db, "select content_hash from marts.image_scores where dbt_invocation_id = ?",
                                      [second.invocation_id])}
    assert scored_now == new_hashes
    assert query(db, "select count(*) from marts.image_scores")[0][0] == DEMO_IMAGES + ADDED_IMAGES
    assert query(db, "select count(*) from marts.image_quality")[0][0] == DEMO_IMAGES + ADDED_IMAGES
    assert query(db, "select count(*) from marts.image_score_history")[0][0] == DEMO_IMAGES + ADDED_IMAGES

    third = dbt(built.project, db, "build")
    assert_all_passed(third)
    assert query(db, "select count(*) from marts.image_scores where dbt_invocation_id = ?",
                 [third.invocation_id])[0][0] == 0


def test_retrained_seed_rescores_every_row_without_full_refresh(built):
    db = copy_db(built.db, built.root / "retrain.duckdb")
    project = copy_project(built.root / "project_retrain")
    seed_csv = project / "seeds" / "gaussian_nb_params.csv"
    old_version = training.load_gaussian_nb(str(seed_csv))[3]
    # other features than the committed model: scoring must follow the seed with no SQL edit
    features = dict(training.DEFAULT_FEATURES, sobel_x_var="ln_x_plus_1", brightness_mean="identity")
    summary = training.train_model(str(db), str(built.labels), str(seed_csv), features=features)
    assert summary["n_trained"] == DEMO_IMAGES
    assert summary["model_version"] != old_version

    rebuilt = dbt(project, db, "build")
    assert_all_passed(rebuilt)
    rows = query(db, "select model_version, dbt_invocation_id, count(*) from marts.image_scores group by all")
    assert rows == [(summary["model_version"], rebuilt.invocation_id, DEMO_IMAGES)]
    max_diff, mismatches, _ = sql_vs_sklearn(db, seed_csv)
    assert max_diff <= PARITY_TOLERANCE, max_diff
    assert mismatches == 0
    history = dict(query(db, "select model_version, count(*) from marts.image_score_history group by all"))
    assert history == {old_version: DEMO_IMAGES, summary["model_version"]: DEMO_IMAGES}
    assert query(db, "select count(distinct model_version) from marts.image_quality")[0][0] == 1


def test_a_model_with_other_classes_and_features_scores_without_sql_edits(built):
    db = copy_db(built.db, built.root / "two_classes.duckdb")
    project = copy_project(built.root / "project_two_classes")
    labels = built.root / "labels_without_moire.csv"
    with open(built.labels, newline="") as src, open(labels, "w", newline="") as dest:
        rows = [r for r in csv.DictReader(src) if r["label"] != "moire"]
        out = csv.DictWriter(dest, fieldnames=["path", "label"], lineterminator="\n")
        out.writeheader()
        out.writerows({"path": str(built.images / r["path"]), "label": r["label"]} for r in rows)
    seed_csv = project / "seeds" / "gaussian_nb_params.csv"
    summary = training.train_model(str(db), str(labels), str(seed_csv),
                                   features={"laplacian_var": "ln_x_plus_1", "fft_hf_mean": "identity"})
    assert summary["classes"] == ["blurry", "sharp"]

    rebuilt = dbt(project, db, "build")
    assert_all_passed(rebuilt)
    columns = {r[0] for r in query(db, """select column_name from information_schema.columns
                                           where table_schema = 'marts' and table_name = 'image_scores'""")}
    assert {c for c in columns if c.startswith("p_")} == {"p_blurry", "p_sharp"}
    max_diff, mismatches, rows_scored = sql_vs_sklearn(db, seed_csv)
    assert rows_scored == DEMO_IMAGES
    assert max_diff <= PARITY_TOLERANCE, max_diff
    assert mismatches == 0


def test_docs_generate_and_lineage_ends_at_the_exposure(built):
    result = dbt(built.project, copy_db(built.db, built.root / "docs.duckdb"), "docs", "generate")
    assert result.returncode == 0, result.output[-5000:]
    manifest = json.loads((built.project / "target" / "manifest.json").read_text())
    catalog = json.loads((built.project / "target" / "catalog.json").read_text())

    exposure = manifest["exposures"]["exposure.image_quality.quality_review"]
    assert exposure["type"] == "analysis" and exposure["owner"]["name"]
    assert "model.image_quality.image_quality" in exposure["depends_on"]["nodes"]

    # sources -> staging -> intermediate -> marts -> exposure
    def upstream(unique_id):
        return set(manifest["nodes"][unique_id]["depends_on"]["nodes"])

    assert "model.image_quality.image_scores" in upstream("model.image_quality.image_quality")
    assert "model.image_quality.int_image_features" in upstream("model.image_quality.image_scores")
    assert "model.image_quality.stg_raw__metric_laplacian" in upstream("model.image_quality.int_image_features")
    assert "source.image_quality.raw.metric_laplacian" in upstream("model.image_quality.stg_raw__metric_laplacian")

    # every model and every column it has in the warehouse is described
    for unique_id, node in manifest["nodes"].items():
        if node["resource_type"] not in ("model", "seed"):
            continue
        assert node["description"].strip(), unique_id
        documented = {name.lower() for name, col in node["columns"].items() if col["description"].strip()}
        actual = {name.lower() for name in catalog["nodes"][unique_id]["columns"]}
        assert actual <= documented, (unique_id, sorted(actual - documented))
    for unique_id, source in manifest["sources"].items():
        assert source["description"].strip(), unique_id
        documented = {name.lower() for name, col in source["columns"].items() if col["description"].strip()}
        actual = {name.lower() for name in catalog["sources"][unique_id]["columns"]}
        assert actual <= documented, (unique_id, sorted(actual - documented))
    for macro_id, macro in manifest["macros"].items():
        if macro["package_name"] == "image_quality":
            assert macro["description"].strip(), macro_id


def test_source_freshness_only_warns_on_old_data(built):
    db = copy_db(built.db, built.root / "stale.duckdb")
    execute(db, "update raw.load_runs set finished_at = finished_at - interval 30 day")
    result = dbt(built.project, db, "source", "freshness")
    assert result.returncode == 0, result.output[-5000:]
    assert result.statuses() == {"source.image_quality.raw.load_runs": "warn"}


# --- tests that the data tests have teeth ------------------------------------------------------


def test_a_nan_metric_fails_finite_and_within(built):
    db = copy_db(built.db, built.root / "nan.duckdb")
    execute(db, """update raw.metric_laplacian set laplacian_var = 'nan'::double
                    where content_hash = (select min(content_hash) from raw.metric_laplacian)""")
    assert_fails_naming(dbt(built.project, db, "build"),
                        "finite_and_within_stg_raw__metric_laplacian_laplacian_var")


def test_a_duplicate_path_fails_the_unique_keys(built):
    db = copy_db(built.db, built.root / "duplicate.duckdb")
    # a second open interval for one path: the path would appear twice in image_quality
    execute(db,
            """insert into raw.load_runs (run_id, started_at, finished_at, status, sources, tool_version)
               select max(run_id) + 1, now(), now(), 'succeeded', ['/elsewhere'], 'test' from raw.load_runs""",
            """insert into raw.files
                   (path, source_root, content_hash, size_bytes, mtime_ns, valid_from_run, valid_to_run)
               select path, source_root, content_hash, size_bytes, mtime_ns,
                      (select max(run_id) from raw.load_runs), null
                 from raw.files where path = (select min(path) from raw.files)""")
    # build stops at the first model whose key test fails, and skips what depends on it ...
    assert_fails_naming(dbt(built.project, db, "build"),
                        "unique_combination_of_columns_stg_raw__files_path__is_current")
    # ... so the mart's own key test is shown to bite by building the mart alone (selected by path:
    # a bare "image_quality" is also the project's name and would select everything)
    assert_fails_naming(dbt(built.project, db, "build", "--select", "models/marts/image_quality.sql"),
                        "unique_image_quality_path")


def test_a_probability_above_one_fails_the_probability_tests(built):
    db = copy_db(built.db, built.root / "probability.duckdb")
    execute(db, """update marts.image_scores set p_sharp = 1.2
                    where content_hash = (select min(content_hash) from marts.image_scores)""")
    # image_scores is incremental: the bad row is not rescored, so build runs the model and fails its tests
    assert_fails_naming(dbt(built.project, db, "build", "--select", "image_scores"),
                        "image_scores_probabilities_in_unit_interval", "image_scores_probabilities_sum_to_one")


def test_a_wrong_golden_probability_fails_the_parity_test(built):
    db = copy_db(built.db, built.root / "golden.duckdb")
    project = copy_project(built.root / "project_golden")
    golden_csv = project / "seeds" / "gaussian_nb_golden.csv"
    with open(golden_csv, newline="") as fh:
        rows = list(csv.DictReader(fh))
    wrong = next(r for r in rows if r["kind"] == "probability")
    wrong["value"] = repr(float(wrong["value"]) + 1e-6)  # off by more than the 1e-9 tolerance
    with open(golden_csv, "w", newline="") as fh:
        out = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        out.writeheader()
        out.writerows(rows)
    assert_fails_naming(dbt(project, db, "build", "--select", "gaussian_nb_golden+"),
                        "assert_gaussian_nb_matches_sklearn_golden_set")
