"""A real stack storing its outputs in S3 (moto's server): submit, run, download by presigned URL."""

from __future__ import annotations

import httpx
import pytest

from tests.utils.stack import make_stack


@pytest.mark.parametrize("mode", ["embedded", "distributed"])
def test_stack_with_s3_storage__outputs_land_in_the_bucket(s3_server, tmp_path, mode):
    bucket = s3_server.new_bucket()
    with make_stack(mode, tmp_path, extra_env=s3_server.env(bucket, "reel")) as stack:
        with stack.client() as c:
            assert c.get("/health").json()["checks"]["storage"] == "ok"
        stack.start_worker("testplugin", pool="s3")
        task = stack.submit(params={"text": "to the bucket", "outputs": 2})
        done = stack.follow(task["id"])
        assert done["status"] == "succeeded", done
        for output in done["outputs"]:
            assert "X-Amz-Signature=" in output["url"] and "X-Amz-Expires=3600" in output["url"]
            r = httpx.get(output["url"])
            assert r.status_code == 200 and r.text == "to the bucket"
        keys = sorted(o["Key"] for o in s3_server.client().list_objects_v2(Bucket=bucket)["Contents"])
        assert keys == [f"reel/projects/default/tasks/{task['id']}/a1/echo-{n}.txt" for n in range(2)]
