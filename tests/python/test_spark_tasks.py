"""The Spark engine's executor side without a JVM: one file's result never fails its Arrow batch.

``engines/spark_tasks.py`` turns each measuring result into a row on its own:
a value that does not fit its column drops that family's row and records an
error of the file; a row Arrow refuses becomes an error row of its file; the
other files of the batch keep their rows.
"""

from __future__ import annotations

from image_quality.engines import spark_tasks
from image_quality.measuring import FileError, FileResult
from image_quality.metrics import all_families

LAYOUT = [(f.name, dict(f.columns)) for f in all_families()]
VERSIONS = {f.name: int(f.version) for f in all_families()}
SCHEMA = spark_tasks._result_arrow_schema(LAYOUT)


def image_properties(frames: int) -> dict:
    return {"format": "png", "width": 300, "height": 200, "colour_mode": "RGB", "channels": 3, "frames": frames,
            "analysis_width": 300, "analysis_height": 200, "brightness_mean": 90.5, "brightness_p01": 3.0,
            "brightness_p99": 250.0}


def test_an_integer_past_its_column_costs_that_family_of_that_file_only():
    columns = dict(LAYOUT)["image_properties"]
    assert columns["frames"] == "integer"
    poison = FileResult("/up/frames.png", "a" * 64, 1000, 1, True,
                        rows={"image_properties": image_properties(2**31), "laplacian": {"laplacian_var": 12.5}})
    good = FileResult("/up/good.png", "b" * 64, 1000, 1, True, rows={"image_properties": image_properties(1)})
    rows = [spark_tasks.safe_row(r, "/up", LAYOUT, VERSIONS) for r in (poison, good)]
    batch = spark_tasks.arrow_batch(rows, SCHEMA).to_pylist()
    assert [r["path"] for r in batch] == ["/up/frames.png", "/up/good.png"]
    assert batch[0]["m_image_properties"] is None and batch[0]["m_laplacian"]["laplacian_var"] == 12.5
    assert batch[0]["errors"] == [{"stage": "metric", "error_kind": "value_out_of_range",
                                   "message": batch[0]["errors"][0]["message"], "family": "image_properties",
                                   "family_version": VERSIONS["image_properties"]}]
    assert "2147483648" in batch[0]["errors"][0]["message"]
    assert batch[1]["m_image_properties"]["frames"] == 1 and batch[1]["errors"] == []


def test_a_row_arrow_refuses_becomes_an_error_row_and_the_batch_goes_on():
    # a lone surrogate cannot be UTF-8: Arrow refuses the row (stored paths never hold one; a message might)
    refused = FileResult("/up/x.jpg", None, errors=[FileError("read", "read_failed", "bad \udce9 byte")])
    good = FileResult("/up/y.jpg", "c" * 64, 10, 1)
    rows = [spark_tasks.safe_row(r, "/up", LAYOUT, VERSIONS) for r in (refused, good)]
    batch = spark_tasks.arrow_batch(rows, SCHEMA).to_pylist()
    assert [r["path"] for r in batch] == ["/up/x.jpg", "/up/y.jpg"]
    assert batch[0]["errors"][0]["error_kind"] == "unexpected_error"
    assert batch[1]["content_hash"] == "c" * 64 and batch[1]["errors"] == []
