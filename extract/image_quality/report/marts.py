"""What the report shows, read from the marts (schemas ``marts`` and ``model``; never ``raw``).

Columns are read from the warehouse when the report runs: the model's classes
and features come from its seed (``model.gaussian_nb_params``), the checks are
the boolean ``is_*`` columns of ``marts.image_quality``, and the measures behind
a label are the model's features as ``marts.image_score_history`` stored them
for the score ``marts.image_quality`` shows. A retrained model, a new check or
a renamed metric changes the report with no edit here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from .cards import Card, Cluster, Gallery, Model, ModelClass, ReportData

# The measure each known check rests on, and which end of it is worst. A check
# not listed here is still shown, ordered by how many checks an image fails.
CHECK_ORDER = {
    "too_dark": ("brightness_p99", "asc"),
    "too_bright": ("brightness_p01", "desc"),
    "low_information": ("grey_entropy", "asc"),
    "odd_size": ("pixel_count", "asc"),
    "odd_aspect_ratio": ("aspect_ratio", "desc"),
    "exact_duplicate": ("exact_duplicate_count", "desc"),
    "near_duplicate": ("near_duplicate_min_distance", "asc"),
}
RECENT_RUNS = 5
FEATURE_POINTS_MAX = 5000  # points per plot; a sample by content hash beyond that
_FEATURE_PREFIX = "feature__"


class MartsMissingError(RuntimeError):
    """The warehouse has no scored marts (dbt has not built them)."""


def quote(name: str) -> str:
    """A column name from the warehouse as a SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def read_report_data(con, db_path: str, limit: int) -> ReportData:
    """Everything the report's first page shows, from an open read-only connection."""
    return MartsReader(con, limit).read(db_path)


@dataclass(frozen=True)
class _GallerySpec:
    """Which images a gallery holds and in what order: enough to read any of its pages."""
    where: str
    params: tuple
    order: str
    measures: tuple[str, ...]


class MartsReader:
    """Reads the marts for one report: :meth:`read` for the first page, :meth:`page_cards` for the rest.

    Galleries page through every image they hold, ``limit`` cards a page, so a
    reviewer can reach each flagged image while no page (and no read) grows with the collection.
    """

    def __init__(self, con, limit: int):
        self.con = con
        self.limit = limit
        self.specs: dict[str, _GallerySpec] = {}
        self.notes: list[str] = []
        self.image_columns = self._columns("marts", "image_quality")
        if not self.image_columns:
            raise MartsMissingError(
                "the warehouse has no marts.image_quality: score it first (`image-quality run` or `dbt build`)")
        self.model = self._read_model()
        self.labels = self.model.labels if self.model else ()
        self.probability_columns = [f"p_{label}" for label in self.labels if f"p_{label}" in self.image_columns]
        self.checks = [c[3:] for c, t in self.image_columns.items() if c.startswith("is_") and t == "BOOLEAN"]
        self.history_join = False  # set by _feature_columns when image_score_history can be joined
        self.feature_columns = self._feature_columns()
        self.images_sql = self._images_sql()

    # --- schema ---------------------------------------------------------------------------

    def _columns(self, schema: str, table: str) -> dict[str, str]:
        rows = self.con.execute(
            """select column_name, data_type from information_schema.columns
                where table_schema = ? and table_name = ? order by ordinal_position""", [schema, table]).fetchall()
        return dict(rows)

    def _read_model(self) -> Model | None:
        if not self._columns("model", "gaussian_nb_params"):
            self.notes.append("No model seed (model.gaussian_nb_params) in the warehouse: no labels to show.")
            return None
        rows = self.con.execute(
            """select model_version, class_label, class_index, class_prior, feature, feature_transform, theta, var
                 from model.gaussian_nb_params order by class_index, feature""").fetchall()
        if not rows:
            return None
        classes: dict[str, ModelClass] = {}
        features: list[str] = []
        transforms: dict[str, str] = {}
        for version, label, index, prior, feature, transform, theta, var in rows:
            cls = classes.setdefault(label, ModelClass(label, int(index), float(prior), {}, {}))
            cls.theta[feature] = float(theta)
            cls.var[feature] = float(var)
            if feature not in transforms:
                features.append(feature)
                transforms[feature] = transform
        versions = sorted({r[0] for r in rows})
        return Model(", ".join(versions), tuple(sorted(classes.values(), key=lambda c: c.index)),
                     tuple(features), transforms)

    def _feature_columns(self) -> dict[str, str]:
        """feature -> the SQL expression giving its value for an image of ``images``."""
        if not self.model:
            return {}
        history = self._columns("marts", "image_score_history")
        found = {}
        for feature in self.model.features:
            if feature in history:
                found[feature] = f"history.{quote(feature)}"
            elif feature in self.image_columns:
                found[feature] = f"images.{quote(feature)}"
            else:
                self.notes.append(f"The model's feature {feature} is in neither marts.image_score_history "
                                  "nor marts.image_quality: it is not shown.")
        self.history_join = bool(history) and {"content_hash", "model_version", "feature_versions"} <= set(history) \
            and {"model_version", "feature_versions"} <= set(self.image_columns)
        if not self.history_join:
            found = {f: e for f, e in found.items() if e.startswith("images.")}
        return found

    def _images_sql(self) -> str:
        """Every present image, with the model's features beside it as ``feature__<name>``."""
        features = "".join(f", {expr} as {quote(_FEATURE_PREFIX + name)}" for name, expr in self.feature_columns.items())
        join = ""
        if self.history_join:
            join = """left join marts.image_score_history as history
                        on history.content_hash = images.content_hash
                        and history.model_version = images.model_version
                        and history.feature_versions = images.feature_versions"""
        return f"(select images.*{features} from marts.image_quality as images {join}) as images"

    # --- reading --------------------------------------------------------------------------

    def _dicts(self, sql: str, params: Sequence | dict = ()) -> list[dict]:
        cur = self.con.execute(sql, params if isinstance(params, dict) else list(params))
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]

    def _card(self, row: dict, measures: Sequence[str] = ()) -> Card:
        features = [(name, row.get(_FEATURE_PREFIX + name)) for name in self.feature_columns]
        extra = [(m, row.get(m)) for m in measures if m in row]
        return Card(
            path=row["path"], content_hash=row.get("content_hash"),
            label=row.get("quality_label") or row.get("score_status"),
            probabilities=[(c[2:], row.get(c)) for c in self.probability_columns],
            measures=extra + features, failed_checks=row.get("failed_checks"))

    def read(self, db_path: str) -> ReportData:
        image_count, scored_count = self.con.execute(
            "select count(*), count(quality_label) from marts.image_quality").fetchone()
        unscored = "'(' || score_status || ')'" if "score_status" in self.image_columns else "'(not scored)'"
        label_counts = self.con.execute(
            f"""select coalesce(quality_label, {unscored}) as label, count(*)
                  from marts.image_quality group by 1 order by 2 desc, 1""").fetchall()
        check_counts = []
        if self.checks:
            counts = self.con.execute("select " + ", ".join(
                f"count(*) filter (where {quote('is_' + c)})" for c in self.checks)
                + " from marts.image_quality").fetchone()
            check_counts = list(zip(self.checks, (int(n) for n in counts)))
        versions = self.con.execute(
            "select model_version, count(*) from marts.image_quality group by 1 order by 2 desc").fetchall() \
            if "model_version" in self.image_columns else []
        runs = self._runs()
        latest = runs[0]["run_id"] if runs else None
        previous = runs[1]["run_id"] if len(runs) > 1 else None
        cluster_count, clusters = self._clusters()
        return ReportData(
            db_path=db_path, image_count=image_count, scored_count=scored_count,
            label_counts=label_counts, check_counts=check_counts, model=self.model,
            model_versions_scored=versions, runs=runs,
            label_galleries=[self._label_gallery(label) for label in self.labels],
            check_galleries=[self._check_gallery(check) for check in self.checks],
            failures=self._failures_gallery(),
            cluster_count=cluster_count, clusters=clusters,
            feature_points=self._feature_points(), latest_run=latest, previous_run=previous,
            changes=self._changes(runs), notes=self.notes)

    def _runs(self) -> list[dict]:
        if not self._columns("marts", "load_runs"):
            self.notes.append("No marts.load_runs in the warehouse (built by an older project): "
                              "run `dbt build` to list load runs and what changed.")
            return []
        return self._dicts(f"select * from marts.load_runs order by run_id desc limit {RECENT_RUNS}")

    def _paged_gallery(self, key: str, title: str, order_said: str, spec: _GallerySpec) -> Gallery:
        self.specs[key] = spec
        total = self.con.execute(f"select count(*) from marts.image_quality as images where {spec.where}",
                                 list(spec.params)).fetchone()[0]
        gallery = Gallery(key, title, total, order_said, self.page_cards(key, 1))
        gallery.pages = max(1, -(-total // self.limit))
        return gallery

    def page_cards(self, key: str, page: int) -> list[Card]:
        """The cards of page ``page`` (from 1) of gallery ``key``, in the gallery's order."""
        spec = self.specs[key]
        rows = self._dicts(f"select * from {self.images_sql} where {spec.where} order by {spec.order} "
                           f"limit {self.limit} offset {(page - 1) * self.limit}", list(spec.params))
        return [self._card(r, spec.measures) for r in rows]

    def _label_gallery(self, label: str) -> Gallery:
        p = f"p_{label}"
        order = f"images.{quote(p)} desc nulls last, images.path" if p in self.image_columns else "images.path"
        return self._paged_gallery(f"label-{label}", f"Labelled {label}", f"most probable first (p_{label})",
                                   _GallerySpec("images.quality_label = ?", (label,), order, ()))

    def _check_gallery(self, check: str) -> Gallery:
        column = "images." + quote("is_" + check)
        measure, direction = CHECK_ORDER.get(check, (None, None))
        most_failed = "images.failed_check_count desc, " if "failed_check_count" in self.image_columns else ""
        if measure in self.image_columns:
            order = f"images.{quote(measure)} {direction} nulls last, {most_failed}images.path"
            said = f"{measure} {'lowest' if direction == 'asc' else 'highest'} first"
            measures = (measure,)
        else:
            order, said, measures = f"{most_failed}images.path", "most failed checks first" if most_failed else "by path", ()
        return self._paged_gallery(f"check-{check}", f"Fails {check.replace('_', ' ')}", said,
                                   _GallerySpec(column, (), order, measures))

    def _failures_gallery(self) -> Gallery | None:
        """Present paths that have no label: not measured, or a feature missing, each with its reason."""
        if "score_status" not in self.image_columns:
            return None
        reasons = tuple(c for c in ("error_kind", "error_message") if c in self.image_columns)
        order = ("images.error_kind nulls last, " if reasons else "") + "images.score_status, images.path"
        return self._paged_gallery("failures", "Not scored: failures and why", "by error kind, then path",
                                   _GallerySpec("images.score_status <> 'scored'", (), order, ("score_status",) + reasons))

    def _feature_points(self) -> dict[str, dict[str, list[float]]]:
        if not self.feature_columns:
            return {}
        cols = [quote(_FEATURE_PREFIX + f) for f in self.feature_columns]
        not_null = " and ".join(f"{c} is not null" for c in cols)
        rows = self.con.execute(
            f"""select quality_label, {', '.join(cols)} from {self.images_sql}
                 where quality_label is not null and {not_null}
                 order by content_hash limit {FEATURE_POINTS_MAX}""").fetchall()
        points: dict[str, dict[str, list[float]]] = {}
        for label, *values in rows:
            per_feature = points.setdefault(label, {f: [] for f in self.feature_columns})
            for feature, value in zip(self.feature_columns, values):
                per_feature[feature].append(float(value))
        return points

    def _clusters(self) -> tuple[int, list[Cluster]]:
        """Present images that look alike or hold the same bytes, joined through near_duplicate_pairs.

        The pairs grow linearly with the images (the model keeps a few per image),
        so the clusters are found from (hash, hash) tuples alone; full rows are read
        only for the cards shown: at most ``limit`` clusters of at most ``limit`` cards.
        The suggested keeper follows analyses/near_duplicate_clusters.sql: the most
        pixels, then the most bytes, then the first path.
        """
        pair_columns = self._columns("marts", "near_duplicate_pairs")
        if not pair_columns:
            return 0, []
        exact = "is_exact_duplicate" if "is_exact_duplicate" in pair_columns else "false"
        parent: dict[str, str] = {}

        def root(h: str) -> str:
            parent.setdefault(h, h)
            while parent[h] != h:
                parent[h] = parent[parent[h]]
                h = parent[h]
            return h

        pairs = self.con.execute(
            f"select content_hash_a, content_hash_b, hamming_distance, {exact} from marts.near_duplicate_pairs").fetchall()
        for a, b, _, _ in pairs:
            ra, rb = root(a), root(b)
            parent[max(ra, rb)] = min(ra, rb)
        distance: dict[str, int] = {}
        all_exact: dict[str, bool] = {}
        for a, _, d, is_exact in pairs:
            r = root(a)
            distance[r] = min(distance.get(r, d), d)
            all_exact[r] = all_exact.get(r, True) and bool(is_exact)
        del pairs
        if not parent:
            return 0, []
        pixels = "pixel_count" if "pixel_count" in self.image_columns else "width * height"
        self.con.register("_paired_content", _one_column_table("content_hash", list(parent)))
        try:
            contents = self.con.execute(
                f"""select content_hash, count(*), max(coalesce({pixels}, 0)), max(coalesce(size_bytes, 0)), min(path)
                      from marts.image_quality
                     where content_hash in (select content_hash from _paired_content)
                     group by content_hash""").fetchall()
        finally:
            self.con.unregister("_paired_content")
        members: dict[str, list[tuple]] = {}
        for content_hash, paths, pixel_count, size, first_path in contents:
            members.setdefault(root(content_hash), []).append((-pixel_count, -size, first_path, content_hash, paths))
        sized = [(sum(m[4] for m in group), key, group) for key, group in members.items()]
        sized = [c for c in sized if c[0] >= 2]
        sized.sort(key=lambda c: (-c[0], min(c[2])[2]))
        clusters = []
        for total, key, group in sized[: self.limit]:
            group.sort()
            hashes = [m[3] for m in group[: self.limit]]   # the first `limit` contents hold the first `limit` paths
            self.con.register("_cluster_content", _one_column_table("content_hash", hashes))
            try:
                rows = self._dicts(
                    f"""select * from {self.images_sql}
                         where images.content_hash in (select content_hash from _cluster_content)
                         order by coalesce(images.{pixels}, 0) desc, coalesce(images.size_bytes, 0) desc, images.path
                         limit {self.limit}""")
            finally:
                self.con.unregister("_cluster_content")
            cards = [self._card(r, ["width", "height", "size_bytes"]) for r in rows]
            if not cards:   # the marts changed under the report: nothing to show
                continue
            cards[0].badge = "suggested keeper"
            exact_cluster = len(group) == 1 or all_exact.get(key, False)
            clusters.append(Cluster(f"cluster-{key[:12]}", cards, distance.get(key), exact_cluster, total))
        return len(sized), clusters

    def _changes(self, runs: list[dict]) -> list[Gallery]:
        """New, changed, removed and relabelled paths in the latest load run."""
        if len(runs) < 1 or not self._columns("marts", "file_history"):
            return []
        latest = runs[0]["run_id"]
        previous = runs[1]["run_id"] if len(runs) > 1 else None
        galleries = []
        for key, title, condition in (
                ("new", "New", "history.began_by = 'added'"),
                ("changed", "Changed", "history.began_by in ('changed', 'restored')")):
            where = f"history.valid_from_run = ? and {condition}"
            total = self.con.execute(f"select count(*) from marts.file_history as history where {where}",
                                     [latest]).fetchone()[0]
            rows = self._dicts(
                f"""select images.* from marts.file_history as history
                      inner join {self.images_sql} on images.path = history.path
                     where {where} order by history.path limit {self.limit}""", [latest])
            galleries.append(Gallery(f"change-{key}", f"{title} in run {latest}", total, "by path",
                                     [self._card(r) for r in rows]))
        where = "valid_to_run = ? and ended_by = 'removed'"
        removed_total = self.con.execute(f"select count(*) from marts.file_history where {where}",
                                         [latest]).fetchone()[0]
        removed = self._dicts(f"select path, content_hash from marts.file_history where {where} "
                              f"order by path limit {self.limit}", [latest])
        galleries.append(Gallery("change-removed", f"Removed in run {latest}", removed_total, "by path", [
            Card(r["path"], r["content_hash"], None, [], [], note=None) for r in removed]))
        galleries.append(self._relabelled(latest, previous))
        return galleries

    def _relabelled(self, latest: int, previous: int | None) -> Gallery:
        """Paths whose label now differs from the label they had when the latest run began.

        The label then is the newest score, made before run ``latest`` started, of
        the content the path held at run ``previous``.
        """
        gallery = Gallery("change-relabelled", f"Relabelled since run {previous}", 0,
                          "by path; the label before is on each card")
        if previous is None or not self.history_join:
            gallery.title = "Relabelled"
            return gallery
        sql = f"""
            with before as (
                select path, content_hash from marts.file_history
                 where valid_from_run <= $previous and (valid_to_run is null or valid_to_run > $previous)
            ),
            scored_before as (
                select before.path, history.quality_label,
                       row_number() over (partition by before.path order by history.scored_at desc) as newest
                  from before
                 inner join marts.image_score_history as history on history.content_hash = before.content_hash
                 where history.scored_at < (select started_at from marts.load_runs where run_id = $latest)
            )
            select images.*, scored_before.quality_label as label_before
              from {self.images_sql}
             inner join scored_before on scored_before.path = images.path and scored_before.newest = 1
             where images.quality_label is distinct from scored_before.quality_label
             order by images.path"""
        params = {"previous": previous, "latest": latest}
        gallery.total = self.con.execute(f"select count(*) from ({sql})", params).fetchone()[0]
        for row in self._dicts(f"{sql} limit {self.limit}", params):
            card = self._card(row)
            card.badge = f"was {row['label_before']}"
            gallery.cards.append(card)
        return gallery


def _one_column_table(name: str, values: list[str]):
    import pyarrow as pa

    return pa.table({name: pa.array(values, pa.string())})
