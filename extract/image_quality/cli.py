"""The ``image-quality`` command: extract, runs, run, watch, demo-data, validation-data, evaluate, train, report.

Heavy modules (duckdb, cv2, sklearn) are imported inside the commands, so
``--help`` answers at once. A run that cannot start prints one line saying why
and exits 1; per-file problems do not fail a run (they are counted and stored).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from . import __version__

PROG = "image-quality"


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except _ExpectedFailure as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1


class _ExpectedFailure(Exception):
    pass


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Find blurry and moire images: load image metrics into DuckDB, score them with dbt.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add_db(p):
        p.add_argument("--db", metavar="PATH",
                       help="DuckDB file (default: $IMAGE_QUALITY_DB, else warehouse.duckdb here)")

    def add_extract_options(p):
        add_db(p)
        p.add_argument("--workers", type=_positive_int, metavar="N",
                       help=f"worker processes (default: CPU count, {os.cpu_count()})")
        p.add_argument("--verify", action="store_true",
                       help="re-read and re-hash every file instead of trusting size and mtime")
        p.add_argument("--lock-timeout", type=float, default=60.0, metavar="SECONDS",
                       help="how long to wait for another process using the database (default 60)")
        p.add_argument("--batch-files", type=_positive_int, default=500, metavar="N",
                       help="results committed per transaction (default 500; a killed run keeps whole batches)")
        p.add_argument("--quiet", action="store_true", help="no progress bar and no summary")
        add_time_limit(p)

    def add_time_limit(p):
        p.add_argument("--file-time-limit", type=_positive_float, default=60.0, metavar="SECONDS",
                       help="wall seconds one file may take to measure; a file still measuring then is "
                            "stopped and recorded as time_limit (default 60)")

    p = sub.add_parser("extract", help="measure new and changed images under SOURCE folders into the warehouse")
    p.add_argument("sources", nargs="+", metavar="SOURCE", help="folder (or image file) to scan")
    add_extract_options(p)
    p.add_argument("--engine", choices=("duckdb", "spark"), default="duckdb",
                   help="duckdb (default): this machine, into --db; spark: Spark jobs into the Spark "
                        "warehouse ($IMAGE_QUALITY_SPARK_WAREHOUSE, else spark-warehouse here)")
    p.add_argument("--spark-master", metavar="URL",
                   help="with --engine spark: local[N], spark://HOST:PORT or yarn "
                        "(default: $IMAGE_QUALITY_SPARK_MASTER, else local[*])")
    p.set_defaults(handler=_cmd_extract)

    p = sub.add_parser("runs", help="list load runs, newest first")
    add_db(p)
    p.add_argument("--limit", type=_positive_int, default=20, metavar="N")
    p.set_defaults(handler=_cmd_runs)

    p = sub.add_parser("run", help="extract, then score with `dbt build`")
    p.add_argument("sources", nargs="+", metavar="SOURCE")
    add_extract_options(p)
    p.add_argument("--project-dir", metavar="DIR",
                   help="the dbt project (default: this folder if it has dbt_project.yml, else the repository's)")
    p.set_defaults(handler=_cmd_run)

    p = sub.add_parser("watch", help="extract and `dbt build` whenever SOURCE folders or s3:// prefixes change",
                       description="Runs until SIGINT or SIGTERM, one log line per cycle.")
    p.add_argument("sources", nargs="+", metavar="SOURCE", help="folder, image file or s3://BUCKET[/PREFIX]")
    add_db(p)
    p.add_argument("--workers", type=_positive_int, metavar="N",
                   help=f"worker processes (default: CPU count, {os.cpu_count()})")
    p.add_argument("--lock-timeout", type=float, default=5.0, metavar="SECONDS",
                   help="how long a cycle waits for another process using the database before it is "
                        "logged and tried again after --interval (default 5)")
    p.add_argument("--batch-files", type=_positive_int, default=500, metavar="N",
                   help="results committed per transaction (default 500)")
    p.add_argument("--interval", type=_positive_float, default=10.0, metavar="S",
                   help="seconds between listings of s3:// sources, and before retrying a cycle (default 10)")
    p.add_argument("--debounce", type=float, default=2.0, metavar="S",
                   help="quiet seconds after a change before a cycle starts (default 2)")
    p.add_argument("--project-dir", metavar="DIR", help="the dbt project (default as for run)")
    add_time_limit(p)
    p.set_defaults(handler=_cmd_watch)

    p = sub.add_parser("demo-data", help="write a labelled demo set (sharp / blurry / moire) from shipped photographs")
    p.add_argument("out", metavar="OUT", help="folder to write images and labels.csv into")
    p.add_argument("--n", type=_positive_int, default=24, metavar="N", help="images to write (default 24)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default 0)")
    p.add_argument("--photographs", choices=("shipped", "installed"), default="shipped",
                   help="training scenes our dependencies ship (default), or also those `make photographs` installs")
    p.set_defaults(handler=_cmd_demo_data)

    p = sub.add_parser("validation-data",
                       help="write a labelled validation set made by other physics than demo-data's (never train on it)")
    p.add_argument("out", metavar="OUT", help="folder to write images and labels.csv into")
    p.add_argument("--n", type=_positive_int, default=600, metavar="N", help="images to write (default 600)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default 0)")
    p.add_argument("--scenes", choices=("all", "validation", "train"), default="all",
                   help="which photographs' scenes: all installed (default), or one split of the catalogue")
    p.set_defaults(handler=_cmd_validation_data)

    p = sub.add_parser("evaluate", help="score a labelled set through extract and dbt; print accuracy, AUC, confusion")
    p.add_argument("--labels", required=True, metavar="LABELS.csv", help="CSV with columns path,label")
    add_extract_options(p)
    p.add_argument("--project-dir", metavar="DIR", help="the dbt project (default as for run)")
    p.set_defaults(handler=_cmd_evaluate)

    p = sub.add_parser("train", help="fit the Gaussian Naive Bayes model on labelled images and write the dbt seed")
    p.add_argument("--labels", required=True, action="append", metavar="LABELS.csv",
                   help="CSV with columns path (or file), label and optionally photo (or source_repo), the group "
                        "left out together in validation; repeat to train on several sets")
    add_db(p)
    p.add_argument("--seed-csv", default="seeds/gaussian_nb_params.csv", metavar="PATH",
                   help="where to write the exported model (default seeds/gaussian_nb_params.csv); "
                        "the golden set for the parity test is rewritten beside it")
    p.add_argument("--model-card", default="docs/quality_model.md", metavar="PATH",
                   help="where to write the model card (default docs/quality_model.md)")
    p.set_defaults(handler=_cmd_train)

    p = sub.add_parser("report", help="write a static HTML report of what the marts flagged, with thumbnails")
    add_db(p)
    p.add_argument("--out", default="report", metavar="DIR", help="folder to write index.html into (default report)")
    p.add_argument("--limit", type=_positive_int, default=48, metavar="N",
                   help="images per gallery, worst first (default 48)")
    p.set_defaults(handler=_cmd_report)
    return parser


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("must be above 0")
    return value


def _cmd_watch(args) -> int:
    from . import warehouse
    from .sources import SourceError
    from .watch import Watcher, install_signal_handlers

    db_path = warehouse.resolve_db_path(args.db)
    if not os.path.isdir(os.path.dirname(os.path.abspath(db_path))):
        raise _ExpectedFailure(f"cannot open database {db_path}: its folder does not exist")
    project_dir = _dbt_project_dir(args.project_dir)
    try:
        watcher = Watcher(args.sources, db_path=db_path, project_dir=project_dir, interval=args.interval,
                          debounce=max(0.0, args.debounce), workers=args.workers,
                          lock_timeout_s=args.lock_timeout, batch_files=args.batch_files,
                          file_time_limit_s=args.file_time_limit)
        install_signal_handlers(watcher)
        watcher.log(f"watching {', '.join(watcher.roots)} -> {db_path}; SIGINT or SIGTERM stops after the current cycle")
        cycles = watcher.run()
    except SourceError as exc:
        raise _ExpectedFailure(str(exc)) from None
    watcher.log(f"stopped after {cycles} cycle{'s' if cycles != 1 else ''}")
    return 0


def _extract(args) -> "object":
    from . import warehouse
    from .sources import SourceError
    from .loader import RunFailedError, extract
    from .progress import FileProgress, wants_progress

    db_path = warehouse.resolve_db_path(args.db)
    progress = FileProgress(wants_progress(args.quiet))
    try:
        summary = extract(args.sources, db_path=db_path, workers=args.workers, verify=args.verify,
                          lock_timeout_s=args.lock_timeout, batch_files=args.batch_files,
                          progress=progress, file_time_limit_s=args.file_time_limit)
    except (SourceError, warehouse.WarehouseLockedError, warehouse.WarehouseOpenError, RunFailedError) as exc:
        raise _ExpectedFailure(str(exc)) from None
    finally:
        progress.close()
    if not args.quiet:
        for run_id in summary.failed_runs_marked:
            print(f"run {run_id} had been interrupted; marked failed", file=sys.stderr)
        print("\n".join(summary.lines()))
    return summary


def _cmd_extract(args) -> int:
    if args.engine == "spark":
        _extract_on_spark(args)
    else:
        _extract(args)
    return 0


def _extract_on_spark(args) -> None:
    from .sources import SourceError
    from .engines.spark_session import SparkUnavailable

    try:
        from .engines.spark_extract import extract
        summary = extract(args.sources, master=args.spark_master, verify=args.verify)
    except (SourceError, SparkUnavailable) as exc:
        raise _ExpectedFailure(str(exc)) from None
    if not args.quiet:
        for run_id in summary.failed_runs_marked:
            print(f"run {run_id} had been interrupted; marked failed", file=sys.stderr)
        print("\n".join(summary.lines()))


def _cmd_runs(args) -> int:
    from . import warehouse

    db_path = warehouse.resolve_db_path(args.db)
    try:
        con = warehouse.connect(db_path, read_only=True, lock_timeout_s=10)
    except (warehouse.WarehouseLockedError, warehouse.WarehouseOpenError) as exc:
        raise _ExpectedFailure(str(exc)) from None
    try:
        rows = warehouse.list_runs(con, args.limit)
    except Exception as exc:
        raise _ExpectedFailure(f"{db_path} holds no load runs ({str(exc).splitlines()[0]})") from None
    finally:
        con.close()
    header = ("run", "status", "started", "secs", "scanned", "unchanged", "added", "changed",
              "removed", "new", "failed", "sources")
    table = [header]
    for (run_id, status, started, finished, scanned, unchanged, added, changed, removed, new, failed,
         _read, _decoded, sources, _tool, _message) in rows:
        secs = f"{(finished - started).total_seconds():.1f}" if finished else "-"
        table.append((str(run_id), status, started.strftime("%Y-%m-%d %H:%M:%S"), secs,
                      *(str(v if v is not None else "-") for v in (scanned, unchanged, added, changed,
                                                                   removed, new, failed)), sources))
    widths = [max(len(row[i]) for row in table) for i in range(len(header) - 1)]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1])
    return 0


def _cmd_run(args) -> int:
    summary = _extract(args)
    _dbt_build(summary.db_path, _dbt_project_dir(args.project_dir), args.quiet)
    return 0


def _dbt_build(db_path: str, project_dir: Path, quiet: bool) -> None:
    """dbt build against ``db_path``; called once the loader's connection is closed (one writer)."""
    env = dict(os.environ, IMAGE_QUALITY_DB=os.path.abspath(db_path))
    command = [sys.executable, "-c", "from dbt.cli.main import cli; cli()", "build",
               "--project-dir", str(project_dir), "--profiles-dir", str(project_dir)]
    if quiet:
        command.append("--quiet")
    completed = subprocess.run(command, env=env, cwd=project_dir)
    if completed.returncode != 0:
        raise _ExpectedFailure(f"dbt build failed (exit {completed.returncode}); see its output above")


def _cmd_evaluate(args) -> int:
    import numpy as np

    from . import warehouse
    from .lab.evaluation import Evaluation
    from .lab.training import read_labels

    if not os.path.isfile(args.labels):
        raise _ExpectedFailure(f"labels file {args.labels} does not exist")
    labelled = read_labels(args.labels)
    if not labelled:
        raise _ExpectedFailure(f"{args.labels} holds no labelled paths")
    args.sources = [os.path.dirname(os.path.abspath(args.labels))]
    summary = _extract(args)
    _dbt_build(summary.db_path, _dbt_project_dir(args.project_dir), quiet=True)
    con = warehouse.connect(summary.db_path, read_only=True)
    try:
        import pyarrow as pa

        con.register("labelled", pa.table({"path": [p for p, _ in labelled], "label": [l for _, l in labelled]}))
        cur = con.execute("""select l.label, q.* from labelled l
                               join marts.image_quality q on q.path = l.path
                              where q.quality_label is not null""")
        names = [d[0] for d in cur.description]
        rows = cur.fetchall()
    finally:
        con.close()
    classes = [n[2:] for n in names if n.startswith("p_")]
    if not rows or not classes:
        raise _ExpectedFailure("no labelled image was scored: are the labelled paths under the labels file's folder?")
    proba = [[row[names.index(f"p_{c}")] for c in classes] for row in rows]
    result = Evaluation.from_probabilities([row[0] for row in rows], np.asarray(proba, dtype=float), classes)
    print(f"scored {len(rows)} of {len(labelled)} labelled images with the model dbt applied")
    print("\n".join(result.text_lines()))
    return 0


def _dbt_project_dir(explicit: str | None) -> Path:
    candidates = [Path(explicit)] if explicit else [Path.cwd(), Path(__file__).resolve().parents[2]]
    for candidate in candidates:
        if (candidate / "dbt_project.yml").is_file():
            return candidate.resolve()
    raise _ExpectedFailure(
        "no dbt project found (looked for dbt_project.yml in " + ", ".join(map(str, candidates))
        + "); pass --project-dir")


def _cmd_demo_data(args) -> int:
    from .lab.demo_data import write_demo_set

    labels = write_demo_set(args.out, n=args.n, seed=args.seed, shipped_only=args.photographs == "shipped")
    print(f"wrote {labels.parent} ({args.n} images, labels in {labels})")
    return 0


def _cmd_validation_data(args) -> int:
    from .lab.validation_data import write_validation_set

    try:
        labels = write_validation_set(args.out, n=args.n, seed=args.seed, split=args.scenes)
    except (ValueError, OSError) as exc:
        raise _ExpectedFailure(str(exc)) from None
    print(f"wrote {labels.parent} ({args.n} images, labels in {labels})")
    return 0


def _cmd_train(args) -> int:
    from . import warehouse
    from .lab.training import train_model

    db_path = warehouse.resolve_db_path(args.db)
    for labels in args.labels:
        if not os.path.isfile(labels):
            raise _ExpectedFailure(f"labels file {labels} does not exist")
    report = train_model(db_path, args.labels, args.seed_csv, model_card=args.model_card)
    for key, value in report.items():
        if isinstance(value, (list, tuple)) and len(value) > 5:
            value = f"{len(value)} items, first: {', '.join(map(str, value[:5]))}"
        print(f"{key}: {value}")
    return 0


def _cmd_report(args) -> int:
    from . import warehouse
    from .report import ReportError, write_report

    try:
        result = write_report(warehouse.resolve_db_path(args.db), args.out, limit=args.limit)
    except ReportError as exc:
        raise _ExpectedFailure(str(exc)) from None
    t = result.thumbnails
    print(f"{result.data.image_count} images; thumbnails: {t.made} made, {t.from_cache} from cache, "
          f"{t.placeholders} placeholders; {result.plots} plots")
    print(f"report: {result.index}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
