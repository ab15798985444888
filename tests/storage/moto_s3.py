"""A real S3-compatible HTTP server for tests: moto in server mode on a free port."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import boto3
from moto.server import ThreadedMotoServer

from tests.utils.stack import free_port

REGION = "us-east-1"
ACCESS, SECRET = "testing", "testing"


@dataclass
class S3Server:
    endpoint: str

    def client(self):  # type: ignore[no-untyped-def]
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=ACCESS,
            aws_secret_access_key=SECRET,
        )

    def new_bucket(self) -> str:
        name = f"reel-{secrets.token_hex(4)}"
        self.client().create_bucket(Bucket=name)
        return name

    def env(self, bucket: str, prefix: str = "") -> dict[str, str]:
        """The REEL_* settings that point a Reel process at ``bucket``."""
        return {
            "REEL_STORAGE_URL": f"s3://{bucket}/{prefix}".rstrip("/"),
            "REEL_STORAGE_ENDPOINT_URL": self.endpoint,
            "REEL_STORAGE_REGION": REGION,
            "REEL_STORAGE_ACCESS_KEY": ACCESS,
            "REEL_STORAGE_SECRET_KEY": SECRET,
            "REEL_STORAGE_ADDRESSING_STYLE": "path",
        }


@contextmanager
def moto_s3() -> Iterator[S3Server]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield S3Server(f"http://127.0.0.1:{port}")
    finally:
        server.stop()
