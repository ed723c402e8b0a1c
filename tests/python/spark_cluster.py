"""A real Spark standalone cluster on loopback: one master and two workers, each its own JVM.

Started from pyspark's own jars with ``spark-class`` (nothing to download),
bound to 127.0.0.1 on free ports, each worker offering one core and 1 GB to
executors. Every JVM runs in its own process group, so stopping the cluster
ends the executors the workers started too. Used by test_spark_cluster.py and
bench/spark_scale.py.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

WORKERS = 2
WORKER_CORES = 1
WORKER_MEMORY = "1g"
START_TIMEOUT_S = 180


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StandaloneCluster:
    """``with StandaloneCluster(work) as cluster:`` gives ``cluster.master_url`` (spark://127.0.0.1:PORT)."""

    def __init__(self, work: Path, workers: int = WORKERS):
        self.work = Path(work)
        self.workers = workers
        self.port, self.ui_port = free_port(), free_port()
        self.master_url = f"spark://127.0.0.1:{self.port}"
        self._procs: list[subprocess.Popen] = []

    def _start(self, name: str, *args: str) -> None:
        log = open(self.work / f"{name}.log", "wb")
        env = dict(os.environ, SPARK_HOME=str(spark_home()), SPARK_LOCAL_IP="127.0.0.1",
                   SPARK_LOG_DIR=str(self.work / "logs"), SPARK_WORKER_DIR=str(self.work / f"{name}-work"),
                   SPARK_NO_DAEMONIZE="1")
        self._procs.append(subprocess.Popen([str(spark_home() / "bin" / "spark-class"), *args], env=env,
                                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True))

    def __enter__(self) -> "StandaloneCluster":
        self.work.mkdir(parents=True, exist_ok=True)
        try:
            self._start("master", "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                        "--port", str(self.port), "--webui-port", str(self.ui_port))
            for i in range(self.workers):
                self._start(f"worker{i}", "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1",
                            "--cores", str(WORKER_CORES), "--memory", WORKER_MEMORY,
                            "--webui-port", str(free_port()), "--work-dir", str(self.work / f"worker{i}-work"),
                            self.master_url)
            self._wait_for_workers()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def state(self) -> dict:
        """The master's own view (its web UI's JSON): workers, applications."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.ui_port}/json/", timeout=5) as response:
            return json.load(response)

    def _wait_for_workers(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            for proc in self._procs:
                if proc.poll() is not None:
                    raise RuntimeError(f"a cluster JVM exited with {proc.returncode}; see {self.work}/*.log")
            try:
                if self.state().get("aliveworkers", 0) >= self.workers:
                    return
            except OSError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"the cluster did not have {self.workers} workers after {START_TIMEOUT_S} s; "
                           f"see {self.work}/*.log")

    def pids(self) -> list[int]:
        return [p.pid for p in self._procs]

    def stop(self) -> None:
        """End every JVM this cluster started (and the executors in their process groups); workers first."""
        for proc in reversed(self._procs):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for proc in reversed(self._procs):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
        self._procs.clear()
