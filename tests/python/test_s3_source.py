"""s3:// sources against a real S3 server (moto's, on loopback), through the real command line.

Every client setting reaches the loader through the standard AWS variables
(AWS_ENDPOINT_URL and friends, see s3_server.CREDENTIALS); faults come from a
proxy in front of the server that answers as a failing S3 would.
"""

from __future__ import annotations

import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from conftest import last_run, query, run_cli, write_jpeg
from image_quality.metrics import all_families
from s3_server import FaultProxy, bucket, distinct_jpegs, s3_server, sha256  # noqa: F401  (fixtures)

PAGE_KEYS = "4"


def extract(db, *sources, env, extra=()):
    return run_cli("extract", *sources, "--db", str(db), "--workers", "2", "--quiet", *extra,
                   env=dict(env, IMAGE_QUALITY_S3_PAGE_KEYS=PAGE_KEYS))


def put(s3_server, bucket, objects: dict[str, bytes]) -> dict[str, dict]:
    client = s3_server.client()
    return {key: client.put_object(Bucket=bucket, Key=key, Body=data) for key, data in objects.items()}


def current(db) -> dict[str, str]:
    return dict(query(db, "select path, content_hash from raw.files where valid_to_run is null"))


def errors(db, run_id=None) -> set[tuple]:
    rows = query(db, "select path, stage, error_kind from raw.extract_errors"
                     + (" where run_id = ?" if run_id else ""), [run_id] if run_id else [])
    return set(rows)


def assert_fully_measured(db, hashes):
    for family in all_families():
        measured = {h for (h,) in query(
            db, f"select content_hash from raw.{family.table} where metric_version = ?", [family.version])}
        assert set(hashes) <= measured, family.name


@pytest.fixture
def proxy(s3_server):
    p = FaultProxy(s3_server)
    yield p
    if not p.gone:
        p.close()


def test_a_prefix_over_several_listing_pages_is_measured_then_a_rerun_reads_nothing(
        tmp_path, s3_server, bucket, proxy, photos):
    images = distinct_jpegs(photos, 14)
    objects = {f"up/2024/img_{i:02d}.{'JPG' if i % 3 == 0 else 'jpg'}": data for i, data in enumerate(images)}
    put(s3_server, bucket, {**objects, "up/notes.txt": b"not an image", "up/2024/": b"",
                            "other/outside.jpg": images[0]})
    db = tmp_path / "w.duckdb"

    done = extract(db, f"s3://{bucket}/up", env=s3_server.env(proxy.endpoint))
    assert done.returncode == 0, done.stderr
    assert proxy.lists >= 4   # 16 keys under up/, 4 a page (the check of the source lists once more)
    assert current(db) == {f"s3://{bucket}/{k}": sha256(v) for k, v in objects.items()}
    assert query(db, "select distinct source_root from raw.files") == [(f"s3://{bucket}/up/",)]
    etags = dict(query(db, "select path, etag from raw.files"))
    listed = {f"s3://{bucket}/{o['Key']}": o["ETag"]
              for o in s3_server.client().list_objects_v2(Bucket=bucket, Prefix="up/")["Contents"]}
    assert etags == {path: listed[path] for path in etags}
    assert_fully_measured(db, [sha256(v) for v in objects.values()])
    run = last_run(db)
    assert (run["status"], run["files_scanned"], run["files_read"], run["files_failed"]) == ("succeeded", 14, 14, 0)
    assert sum(proxy.gets.values()) == 14

    proxy.gets.clear()
    again = extract(db, f"s3://{bucket}/up/", env=s3_server.env(proxy.endpoint))
    assert again.returncode == 0, again.stderr
    run = last_run(db)
    assert (run["files_scanned"], run["files_unchanged"], run["files_read"]) == (14, 14, 0)
    assert sum(proxy.gets.values()) == 0, "an unchanged listing must read no object"


def test_an_overwrite_opens_a_new_interval_and_a_delete_closes_one(tmp_path, s3_server, bucket, photos):
    a, b, c, a2 = distinct_jpegs(photos, 4)
    put(s3_server, bucket, {"a.jpg": a, "b.jpg": b, "c.jpg": c})
    db = tmp_path / "w.duckdb"
    assert extract(db, f"s3://{bucket}", env=s3_server.env()).returncode == 0
    put(s3_server, bucket, {"a.jpg": a2})
    s3_server.client().delete_object(Bucket=bucket, Key="b.jpg")

    done = extract(db, f"s3://{bucket}", env=s3_server.env())
    assert done.returncode == 0, done.stderr
    history = query(db, "select path, content_hash, valid_from_run, valid_to_run from raw.files order by all")
    root = f"s3://{bucket}/"
    assert history == sorted([
        (root + "a.jpg", sha256(a), 1, 2), (root + "a.jpg", sha256(a2), 2, None),
        (root + "b.jpg", sha256(b), 1, 2), (root + "c.jpg", sha256(c), 1, None)])
    run = last_run(db)
    assert (run["paths_changed"], run["paths_removed"], run["files_read"]) == (1, 1, 1)


def test_a_versioned_bucket_records_each_version_and_answers_what_the_prefix_held_at_run_n(
        tmp_path, s3_server, bucket, photos):
    v1, v2, other = distinct_jpegs(photos, 3)
    client = s3_server.client()
    client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    first = put(s3_server, bucket, {"photos/x.jpg": v1, "photos/y.jpg": other})
    db = tmp_path / "w.duckdb"
    assert extract(db, f"s3://{bucket}/photos", env=s3_server.env()).returncode == 0
    second = put(s3_server, bucket, {"photos/x.jpg": v2})
    assert extract(db, f"s3://{bucket}/photos", env=s3_server.env()).returncode == 0

    path = f"s3://{bucket}/photos/x.jpg"
    rows = query(db, "select content_hash, version_id, valid_from_run, valid_to_run from raw.files "
                     "where path = ? order by valid_from_run", [path])
    assert rows == [(sha256(v1), first["photos/x.jpg"]["VersionId"], 1, 2),
                    (sha256(v2), second["photos/x.jpg"]["VersionId"], 2, None)]
    # The recorded version gives back the very bytes whose hash the interval holds.
    for content_hash, version_id, _, _ in rows:
        old = client.get_object(Bucket=bucket, Key="photos/x.jpg", VersionId=version_id)["Body"].read()
        assert sha256(old) == content_hash

    held_at = """select path, content_hash from raw.files
                  where starts_with(path, ?) and valid_from_run <= ? and (valid_to_run is null or valid_to_run > ?)
                  order by path"""
    prefix = f"s3://{bucket}/photos/"
    assert query(db, held_at, [prefix, 1, 1]) == [(path, sha256(v1)), (prefix + "y.jpg", sha256(other))]
    assert query(db, held_at, [prefix, 2, 2]) == [(path, sha256(v2)), (prefix + "y.jpg", sha256(other))]


HOSTILE_KEYS = ["a//double.jpg", "a/../dotdot.jpg", "a/./dot.jpg", "/leading.jpg", "with space.jpg",
                "café/üñí çødé.png", "back\\slash.jpg", "q?x#y%20z+plus.jpg", "日本/写真.JPEG", "a/b/../../up.jpg"]


def test_hostile_keys_are_stored_exactly_and_measured(tmp_path, s3_server, bucket, photos):
    images = distinct_jpegs(photos, len(HOSTILE_KEYS))
    objects = dict(zip(HOSTILE_KEYS, images))
    put(s3_server, bucket, objects)
    db = tmp_path / "w.duckdb"
    done = extract(db, f"s3://{bucket}", env=s3_server.env())
    assert done.returncode == 0, done.stderr
    assert current(db) == {f"s3://{bucket}/{k}": sha256(v) for k, v in objects.items()}
    assert errors(db) == set()
    assert_fully_measured(db, [sha256(v) for v in images])


def test_local_and_s3_sources_mix_in_one_run(tmp_path, s3_server, bucket, photos):
    remote, local = distinct_jpegs(photos, 2)
    put(s3_server, bucket, {"r.jpg": remote})
    folder = tmp_path / "local"
    folder.mkdir()
    (folder / "l.jpg").write_bytes(local)
    db = tmp_path / "w.duckdb"
    done = extract(db, str(folder), f"s3://{bucket}", env=s3_server.env())
    assert done.returncode == 0, done.stderr
    assert current(db) == {f"s3://{bucket}/r.jpg": sha256(remote), f"{folder}/l.jpg": sha256(local)}
    assert query(db, "select etag is null, version_id is null from raw.files where path = ?",
                 [f"{folder}/l.jpg"]) == [(True, True)]


def test_denied_deleted_and_throttled_objects_become_error_rows_and_the_next_run_resumes(
        tmp_path, s3_server, bucket, proxy, photos):
    images = distinct_jpegs(photos, 6)
    keys = ["denied.jpg", "deleted.jpg", "slow.jpg", "throttled.jpg", "fine1.jpg", "fine2.jpg"]
    objects = dict(zip(keys, images))
    put(s3_server, bucket, objects)
    proxy.deny.add("denied.jpg")
    proxy.delete_before_get.add("deleted.jpg")
    proxy.slow_down.update({"slow.jpg": 2, "throttled.jpg": -1})
    db = tmp_path / "w.duckdb"
    env = s3_server.env(proxy.endpoint)

    done = extract(db, f"s3://{bucket}", env=env)
    assert done.returncode == 0, done.stderr
    root = f"s3://{bucket}/"
    assert errors(db) == {(root + "denied.jpg", "read", "permission_denied"),
                          (root + "deleted.jpg", "read", "vanished"),
                          (root + "throttled.jpg", "read", "throttled")}
    assert set(current(db)) == {root + k for k in ("slow.jpg", "fine1.jpg", "fine2.jpg")}
    # Retries are bounded by the standard variable AWS_MAX_ATTEMPTS (3): two SlowDowns, then the object.
    assert proxy.gets["slow.jpg"] == 3 and proxy.gets["throttled.jpg"] == 3
    run = last_run(db)
    assert (run["status"], run["files_failed"]) == ("succeeded", 3)

    proxy.deny.clear()
    proxy.slow_down.clear()
    proxy.delete_before_get.clear()
    again = extract(db, f"s3://{bucket}", env=env)
    assert again.returncode == 0, again.stderr
    assert current(db) == {root + k: sha256(v) for k, v in objects.items() if k != "deleted.jpg"}
    assert errors(db, last_run(db)["run_id"]) == set()


def test_an_object_deleted_between_list_and_get_closes_its_interval(tmp_path, s3_server, bucket, proxy, photos):
    old, new, keep = distinct_jpegs(photos, 3)
    put(s3_server, bucket, {"x.jpg": old, "keep.jpg": keep})
    db = tmp_path / "w.duckdb"
    env = s3_server.env(proxy.endpoint)
    assert extract(db, f"s3://{bucket}", env=env).returncode == 0
    put(s3_server, bucket, {"x.jpg": new})           # the listing now differs, so it is read ...
    proxy.delete_before_get.add("x.jpg")            # ... and is gone when it is
    done = extract(db, f"s3://{bucket}", env=env)
    assert done.returncode == 0, done.stderr
    root = f"s3://{bucket}/"
    assert query(db, "select content_hash, valid_from_run, valid_to_run from raw.files where path = ?",
                 [root + "x.jpg"]) == [(sha256(old), 1, 2)]
    assert errors(db, 2) == {(root + "x.jpg", "read", "vanished")}
    assert current(db) == {root + "keep.jpg": sha256(keep)}


def test_the_server_gone_mid_run_loses_nothing_and_the_next_run_resumes(tmp_path, s3_server, bucket, proxy, photos):
    images = distinct_jpegs(photos, 12)
    objects = {f"p/{i:02d}.jpg": data for i, data in enumerate(images)}
    put(s3_server, bucket, objects)
    proxy.gone_after_gets = 5
    db = tmp_path / "w.duckdb"

    done = extract(db, f"s3://{bucket}/p", env=s3_server.env(proxy.endpoint), extra=("--batch-files", "2"))
    assert done.returncode == 0, done.stderr
    root = f"s3://{bucket}/p/"
    stored = current(db)
    failed = {path for path, stage, kind in errors(db)}
    assert {kind for _, _, kind in errors(db)} == {"source_unreachable"}
    assert len(stored) <= 5 and stored.keys().isdisjoint(failed)
    assert stored.keys() | failed == {root + k[2:] for k in objects}, "every object is measured or an error row"
    assert all(stored[p] == sha256(objects["p/" + p[len(root):]]) for p in stored)
    assert_fully_measured(db, stored.values())
    assert query(db, "select count(*) from raw.files where valid_to_run is not null") == [(0,)]

    resumed = extract(db, f"s3://{bucket}/p", env=s3_server.env())   # the server is back
    assert resumed.returncode == 0, resumed.stderr
    assert current(db) == {root + k[2:]: sha256(v) for k, v in objects.items()}
    assert last_run(db)["files_read"] == 12 - len(stored)
    assert_fully_measured(db, [sha256(v) for v in images])


def test_a_listing_cut_off_part_way_closes_nothing(tmp_path, s3_server, bucket, proxy, photos):
    images = distinct_jpegs(photos, 10)
    objects = {f"{i:02d}.jpg": data for i, data in enumerate(images)}
    put(s3_server, bucket, objects)
    db = tmp_path / "w.duckdb"
    assert extract(db, f"s3://{bucket}", env=s3_server.env(proxy.endpoint)).returncode == 0
    proxy.gone_after_lists = proxy.lists + 2         # the check and the first page, then nothing
    done = extract(db, f"s3://{bucket}", env=s3_server.env(proxy.endpoint))
    assert done.returncode == 0, done.stderr
    assert errors(db, 2) == {(f"s3://{bucket}/", "discover", "unreadable_folder")}
    assert len(current(db)) == 10 and query(db, "select count(*) from raw.files where valid_to_run is not null") == [(0,)]


def test_a_source_that_cannot_be_listed_is_one_line_and_exit_1(tmp_path, s3_server, bucket, proxy):
    db = tmp_path / "w.duckdb"
    missing = extract(db, "s3://no-such-bucket-here/x", env=s3_server.env())
    assert missing.returncode == 1
    assert missing.stderr.count("\n") == 1 and "s3://no-such-bucket-here/x/" in missing.stderr
    assert "NoSuchBucket" in missing.stderr or "does not exist" in missing.stderr

    proxy.close()
    proxy.gone = True
    unreachable = extract(db, f"s3://{bucket}", env=s3_server.env(proxy.endpoint))
    assert unreachable.returncode == 1
    assert unreachable.stderr.count("\n") == 1 and f"cannot list source s3://{bucket}/" in unreachable.stderr

    nameless = extract(db, "s3://", env=s3_server.env())
    assert nameless.returncode == 1 and "names no bucket" in nameless.stderr and nameless.stderr.count("\n") == 1


def test_a_source_naming_an_object_or_a_misspelt_prefix_is_one_line_and_exit_1(tmp_path, s3_server, bucket, photos):
    put(s3_server, bucket, {"uploads/2024/a.jpg": distinct_jpegs(photos, 1)[0]})
    db = tmp_path / "w.duckdb"
    an_object = extract(db, f"s3://{bucket}/uploads/2024/a.jpg", env=s3_server.env())
    assert an_object.returncode == 1 and an_object.stderr.count("\n") == 1, an_object.stderr
    assert f"s3://{bucket}/uploads/2024/a.jpg names an object, not a prefix" in an_object.stderr
    misspelt = extract(db, f"s3://{bucket}/upload", env=s3_server.env())
    assert misspelt.returncode == 1 and misspelt.stderr.count("\n") == 1, misspelt.stderr
    assert f"source s3://{bucket}/upload/ does not exist" in misspelt.stderr
    assert not db.exists() or query(db, "select count(*) from raw.load_runs") == [(0,)]
    # the right prefix, and the whole bucket, are read
    assert extract(db, f"s3://{bucket}/uploads", env=s3_server.env()).returncode == 0
    assert query(db, "select path from raw.files") == [(f"s3://{bucket}/uploads/2024/a.jpg",)]


@pytest.mark.slow
def test_extract_then_dbt_build_scores_every_image_in_the_bucket(tmp_path, s3_server, bucket, photos):
    from dbt_run import copy_project

    images = distinct_jpegs(photos, 6, size=400)
    objects = {f"uploads/{i}.jpg": data for i, data in enumerate(images)}
    put(s3_server, bucket, objects)
    local = write_jpeg(tmp_path / "local" / "here.jpg", photos[sorted(photos)[0]])
    db = tmp_path / "w.duckdb"
    project = copy_project(tmp_path / "project")
    done = run_cli("run", f"s3://{bucket}/uploads", str(local.parent), "--db", str(db), "--quiet",
                   "--project-dir", str(project), env=s3_server.env(), timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    scored = dict(query(db, "select path, quality_label from marts.image_quality"))
    assert set(scored) == {f"s3://{bucket}/{k}" for k in objects} | {str(local)}
    assert all(label is not None for label in scored.values())


def test_a_multipart_object_is_keyed_by_its_sha256_not_its_etag(tmp_path, s3_server, bucket, photos):
    from boto3.s3.transfer import TransferConfig

    rng = np.random.default_rng(0)
    base = cv2.resize(photos[sorted(photos)[0]], (1800, 1400), interpolation=cv2.INTER_LINEAR)
    noisy = np.clip(base.astype(np.int16) + rng.integers(-40, 40, base.shape), 0, 255).astype(np.uint8)
    ok, encoded = cv2.imencode(".png", noisy)
    data = encoded.tobytes()
    assert ok and len(data) > 6 * 2 ** 20
    source = tmp_path / "big.png"
    source.write_bytes(data)
    s3_server.client().upload_file(str(source), bucket, "big.png", Config=TransferConfig(
        multipart_threshold=5 * 2 ** 20, multipart_chunksize=5 * 2 ** 20))
    db = tmp_path / "w.duckdb"
    done = extract(db, f"s3://{bucket}", env=s3_server.env())
    assert done.returncode == 0, done.stderr
    [(content_hash, etag)] = query(db, "select content_hash, etag from raw.files")
    assert content_hash == sha256(data)
    assert etag.strip('"').endswith("-2"), "a multipart upload's ETag (no MD5 of the bytes)"
    assert_fully_measured(db, [content_hash])


def test_a_profile_in_the_aws_config_files_is_all_it_takes(tmp_path, s3_server, bucket, photos):
    """No variable of ours and no AWS_ENDPOINT_URL: the profile names the endpoint and the keys."""
    (image,) = distinct_jpegs(photos, 1)
    put(s3_server, bucket, {"p.jpg": image})
    (tmp_path / "config").write_text(
        f"[profile uploads]\nregion = us-east-1\nendpoint_url = {s3_server.endpoint}\n")
    (tmp_path / "credentials").write_text("[uploads]\naws_access_key_id = testing\naws_secret_access_key = testing\n")
    env = {"AWS_CONFIG_FILE": str(tmp_path / "config"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
           "AWS_PROFILE": "uploads", "AWS_EC2_METADATA_DISABLED": "true"}
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    db = tmp_path / "w.duckdb"
    done = subprocess.run([sys.executable, "-m", "image_quality.cli", "extract", f"s3://{bucket}", "--db", str(db),
                           "--workers", "1", "--quiet"], env={**clean, **env}, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert current(db) == {f"s3://{bucket}/p.jpg": sha256(image)}
