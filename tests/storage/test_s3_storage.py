"""S3Storage against a real S3-compatible HTTP server (moto in server mode)."""

from __future__ import annotations

import hashlib
import os

import httpx
import pytest
from reel_host.settings import Settings
from reel_host.storage import make_storage, output_key
from reel_host.storage.base import OutputRefused
from reel_host.storage.s3 import S3Storage


def s3_storage(s3_server, bucket: str, prefix: str = "reel", **overrides) -> S3Storage:
    env = {k.removeprefix("REEL_").lower(): v for k, v in s3_server.env(bucket, prefix).items()}
    storage = make_storage(Settings(**{**env, **overrides}))
    assert isinstance(storage, S3Storage)
    return storage


def test_put__then_presigned_url_downloads_the_bytes(s3_server, tmp_path):
    bucket = s3_server.new_bucket()
    storage = s3_storage(s3_server, bucket)
    path = tmp_path / "frame one.png"
    path.write_bytes(b"\x89PNG fake image bytes")
    key = output_key("alpha", "tsk_1", path.name)

    assert storage.put(key, path, "image/png") == path.stat().st_size

    head = s3_server.client().head_object(Bucket=bucket, Key=f"reel/{key}")
    assert head["ContentType"] == "image/png"
    url = storage.url(key, media_type="image/png", filename="frame one.png", ttl_s=60)
    assert "X-Amz-Expires=60" in url and "X-Amz-Signature=" in url
    r = httpx.get(url)
    assert r.status_code == 200
    assert r.content == path.read_bytes()
    assert r.headers["content-type"] == "image/png"
    assert 'filename="frame one.png"' in r.headers["content-disposition"]
    assert storage.read_bytes(key) == path.read_bytes()


def test_projects__store_under_their_own_prefixes(s3_server, tmp_path):
    # (moto does not check presigned signatures, so bending a URL is not tested here: S3 refuses it.)
    bucket = s3_server.new_bucket()
    storage = s3_storage(s3_server, bucket)
    (tmp_path / "a.txt").write_text("alpha's secret")
    (tmp_path / "b.txt").write_text("beta's own")
    storage.put(output_key("alpha", "tsk_a", "a.txt"), tmp_path / "a.txt", "text/plain")
    storage.put(output_key("beta", "tsk_a", "a.txt"), tmp_path / "b.txt", "text/plain")

    key = output_key("beta", "tsk_a", "a.txt")
    url = storage.url(key, media_type="text/plain", filename="a.txt", ttl_s=60)
    assert "/reel/projects/beta/tasks/tsk_a/a1/a.txt?" in url
    assert httpx.get(url).text == "beta's own"
    keys = sorted(o["Key"] for o in s3_server.client().list_objects_v2(Bucket=bucket)["Contents"])
    assert keys == ["reel/projects/alpha/tasks/tsk_a/a1/a.txt", "reel/projects/beta/tasks/tsk_a/a1/a.txt"]


def test_keys__are_confined_to_projects_tasks(s3_server):
    storage = s3_storage(s3_server, s3_server.new_bucket())
    # output_key makes any file name safe; a hand-made key that climbs out is refused outright
    climbing = output_key("alpha", "tsk_1", "../../beta/tasks/x/secret.txt")
    assert climbing == "projects/alpha/tasks/tsk_1/a1/secret.txt"
    for bad in ("projects/alpha/../beta/tasks/t/x", "other/alpha/x", "/projects/alpha/tasks/t/x"):
        with pytest.raises(ValueError, match="storage key"):
            storage.object_key(bad)


def test_delete_prefix__removes_one_tasks_outputs_only(s3_server, tmp_path):
    bucket = s3_server.new_bucket()
    storage = s3_storage(s3_server, bucket, prefix="")
    (tmp_path / "x.txt").write_text("x")
    for project, task in (("alpha", "tsk_1"), ("alpha", "tsk_2"), ("beta", "tsk_1")):
        for n in range(3):
            storage.put(output_key(project, task, f"{n}.txt"), tmp_path / "x.txt", "text/plain")

    storage.delete_prefix("projects/alpha/tasks/tsk_1")

    keys = sorted(o["Key"] for o in s3_server.client().list_objects_v2(Bucket=bucket)["Contents"])
    assert keys == [
        f"projects/{p}/tasks/{t}/a1/{n}.txt"
        for p, t in (("alpha", "tsk_2"), ("beta", "tsk_1"))
        for n in range(3)
    ]
    storage.delete("projects/alpha/tasks/tsk_2/a1/0.txt")
    storage.delete("projects/alpha/tasks/tsk_2/a1/0.txt")  # missing is fine
    assert len(s3_server.client().list_objects_v2(Bucket=bucket)["Contents"]) == 5


def test_put__large_file_goes_up_in_parts(s3_server, tmp_path):
    bucket = s3_server.new_bucket()
    storage = s3_storage(
        s3_server,
        bucket,
        storage_multipart_threshold_bytes=5 * 1024**2,
        storage_multipart_chunk_bytes=5 * 1024**2,
    )
    path = tmp_path / "clip.mp4"
    path.write_bytes(os.urandom(20 * 1024**2 + 123))
    key = output_key("alpha", "tsk_big", "clip.mp4")

    assert storage.put(key, path, "video/mp4") == 20 * 1024**2 + 123

    head = s3_server.client().head_object(Bucket=bucket, Key=f"reel/{key}")
    assert head["ETag"].strip('"').endswith("-5")  # a multipart object's ETag counts its parts
    body = httpx.get(storage.url(key, media_type="video/mp4", filename="clip.mp4", ttl_s=60)).content
    assert hashlib.sha256(body).digest() == hashlib.sha256(path.read_bytes()).digest()


def test_put__refuses_bad_media_types_and_oversized_files(s3_server, tmp_path):
    bucket = s3_server.new_bucket()
    storage = s3_storage(
        s3_server, bucket, storage_max_output_bytes=10, storage_media_types="image/*,video/mp4"
    )
    path = tmp_path / "f.png"
    path.write_bytes(b"12345")
    with pytest.raises(OutputRefused, match="malformed media type 'png'"):
        storage.put(output_key("a", "t", "f.png"), path, "png")
    with pytest.raises(OutputRefused, match="'text/html', not in REEL_STORAGE_MEDIA_TYPES"):
        storage.put(output_key("a", "t", "f.png"), path, "text/html")
    path.write_bytes(b"x" * 11)
    with pytest.raises(OutputRefused, match="11 bytes, over REEL_STORAGE_MAX_OUTPUT_BYTES"):
        storage.put(output_key("a", "t", "f.png"), path, "image/png")
    assert "Contents" not in s3_server.client().list_objects_v2(Bucket=bucket)


def test_durable_url__under_the_public_base_url(s3_server):
    storage = s3_storage(s3_server, s3_server.new_bucket(), storage_public_url="https://media.example.com/")
    assert (
        storage.durable_url("projects/a/tasks/t/x y.png")
        == "https://media.example.com/reel/projects/a/tasks/t/x%20y.png"
    )
    assert s3_storage(s3_server, s3_server.new_bucket()).durable_url("projects/a/tasks/t/x.png") is None


def test_check__fails_on_a_missing_bucket(s3_server):
    s3_storage(s3_server, s3_server.new_bucket()).check()
    with pytest.raises(Exception):  # noqa: B017 - botocore's ClientError (404)
        s3_storage(s3_server, "no-such-bucket-here").check()
