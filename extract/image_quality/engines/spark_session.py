"""The Spark session both the extract and dbt use: master, warehouse, metastore, Java.

* Master: ``--spark-master``, else ``$IMAGE_QUALITY_SPARK_MASTER``, else
  ``local[*]``. On ``spark://...`` or ``yarn`` the package is shipped to the
  executors as a zip (``addPyFile``); locally the executors' Python is this one.
* Warehouse: ``$IMAGE_QUALITY_SPARK_WAREHOUSE``, else ``spark-warehouse`` in the
  working directory, in Spark's layout ``<warehouse>/<schema>.db/<table>/``.
  The Hive metastore (embedded Derby) lives inside it, ``<warehouse>/metastore_db``,
  so every working directory that names the same warehouse sees the same
  tables. profiles.yml's ``spark`` target sets the same locations.
* Java: Spark 4 needs Java 17 or newer, from ``$JAVA_HOME`` or ``java`` on the PATH.

Embedded Derby admits one process at a time: an extract and a ``dbt build
--target spark`` on the same warehouse run one after the other.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

MASTER_ENV_VAR = "IMAGE_QUALITY_SPARK_MASTER"
WAREHOUSE_ENV_VAR = "IMAGE_QUALITY_SPARK_WAREHOUSE"
DEFAULT_MASTER = "local[*]"
DEFAULT_WAREHOUSE = "spark-warehouse"
MIN_JAVA = 17
DRIVER_MEMORY = "2g"  # Spark's 1 GB default is tight once image bytes pass through the driver's JVM


class SparkUnavailable(RuntimeError):
    """The Spark engine cannot start here (no pyspark, no Java 17+); the message says what to install."""


def resolve_master(cli_value: str | None) -> str:
    return cli_value or os.environ.get(MASTER_ENV_VAR) or DEFAULT_MASTER


def resolve_warehouse(value: str | None = None) -> Path:
    return Path(value or os.environ.get(WAREHOUSE_ENV_VAR) or DEFAULT_WAREHOUSE).absolute()


def metastore_url(warehouse: Path) -> str:
    return f"jdbc:derby:;databaseName={warehouse / 'metastore_db'};create=true"


def java_executable() -> str:
    """The java that Spark will start: $JAVA_HOME/bin/java, else java on the PATH."""
    home = os.environ.get("JAVA_HOME")
    if home:
        candidate = Path(home) / "bin" / "java"
        if candidate.is_file():
            return str(candidate)
    found = shutil.which("java")
    if not found:
        raise SparkUnavailable(f"the Spark engine needs Java {MIN_JAVA} or newer and found none "
                               f"(set JAVA_HOME or put java on the PATH; Debian: apt-get install openjdk-17-jre-headless)")
    return found


def java_major_version(java: str) -> int:
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SparkUnavailable(f"cannot run {java} -version: {exc}") from None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not match:
        raise SparkUnavailable(f"cannot tell the version of {java} from: {(out.stderr or out.stdout).strip()[:200]}")
    major = int(match.group(1))
    return int(match.group(2)) if major == 1 else major  # "1.8.0" is Java 8


def check_java() -> str:
    java = java_executable()
    major = java_major_version(java)
    if major < MIN_JAVA:
        raise SparkUnavailable(f"the Spark engine needs Java {MIN_JAVA} or newer; {java} is Java {major} "
                               f"(set JAVA_HOME to a newer one; Debian: apt-get install openjdk-17-jre-headless)")
    return java


def check_pyspark() -> None:
    try:
        import pyspark  # noqa: F401
        import pyarrow  # noqa: F401
    except ImportError as exc:
        raise SparkUnavailable(f"the Spark engine needs the spark extra ({exc.name} is missing): "
                               f"pip install 'image-quality[spark]'") from None


def session_config(master: str, warehouse: Path, arrow_batch_rows: int = 32) -> dict[str, str]:
    """Spark settings of an image-quality session (the dbt profile's spark target mirrors them)."""
    return {
        "spark.master": master,
        "spark.app.name": "image-quality",
        "spark.sql.catalogImplementation": "hive",
        "spark.sql.warehouse.dir": str(warehouse),
        "spark.hadoop.javax.jdo.option.ConnectionURL": metastore_url(warehouse),
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={warehouse} -Dderby.stream.error.file={warehouse / 'derby.log'}",
        "spark.driver.memory": DRIVER_MEMORY,
        # loopback unless SPARK_LOCAL_IP names the address a cluster's executors reach the driver at
        "spark.driver.bindAddress": os.environ.get("SPARK_LOCAL_IP", "127.0.0.1"),
        "spark.driver.host": os.environ.get("SPARK_LOCAL_IP", "127.0.0.1"),
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.session.timeZone": "UTC",
        # rows of paths (not bytes) per Arrow batch into a Python worker: a few dozen files
        "spark.sql.execution.arrow.maxRecordsPerBatch": str(int(arrow_batch_rows)),
        "spark.sql.sources.partitionOverwriteMode": "dynamic",
        "spark.sql.shuffle.partitions": "4",
        # partitions are found by listing the folders, not kept in the Derby
        # metastore: rewriting a partition is then a file operation only
        "spark.sql.hive.manageFilesourcePartitions": "false",
        "spark.sql.files.ignoreMissingFiles": "true",
    }


def start_session(master: str | None = None, warehouse: Path | None = None, arrow_batch_rows: int = 32):
    """A SparkSession on ``master`` over ``warehouse``; raises SparkUnavailable with one line if it cannot."""
    check_java()
    check_pyspark()
    master = resolve_master(master)
    warehouse = warehouse or resolve_warehouse()
    warehouse.mkdir(parents=True, exist_ok=True)
    # Python workers must be this interpreter (it has pyarrow and the package);
    # the JVM binds to loopback, never to a public address.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from pyspark.sql import SparkSession

    builder = SparkSession.builder
    for key, value in session_config(master, warehouse, arrow_batch_rows).items():
        builder = builder.config(key, value)
    try:
        spark = builder.enableHiveSupport().getOrCreate()
    except Exception as exc:  # the JVM did not start: say why in one line
        raise SparkUnavailable(f"Spark did not start on {master}: {str(exc).strip().splitlines()[0][:300]}") from None
    spark.sparkContext.setLogLevel("ERROR")
    if not master.startswith("local"):
        spark.sparkContext.addPyFile(str(_package_zip()))
    return spark


def _package_zip() -> Path:
    """The image_quality package as a zip for the executors of a cluster."""
    package = Path(__file__).resolve().parents[1]
    out = Path(tempfile.mkdtemp(prefix="image-quality-")) / "image_quality.zip"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in package.rglob("*.py"):
            zf.write(path, path.relative_to(package.parent).as_posix())
    return out
