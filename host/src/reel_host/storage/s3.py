"""S3-compatible storage (AWS S3, Cloudflare R2, MinIO) through boto3.

Objects live at ``<prefix>/projects/<project>/tasks/<task>/<file>`` in one bucket;
downloads are presigned GET URLs that expire (at most 7 days, S3's own limit).
Uploads use boto3's managed transfer, so large files go up in parallel parts.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlparse

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

from reel_host.storage.base import Storage, check_output

if TYPE_CHECKING:
    from reel_host.settings import Settings

MAX_PRESIGN_S = 7 * 24 * 3600


class S3Storage(Storage):
    def __init__(self, client: Any, bucket: str, prefix: str, settings: Settings) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.settings = settings
        self.transfer = TransferConfig(
            multipart_threshold=settings.storage_multipart_threshold_bytes,
            multipart_chunksize=settings.storage_multipart_chunk_bytes,
            max_concurrency=8,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Storage:
        """Build from ``REEL_STORAGE_URL=s3://bucket/prefix`` and the ``REEL_STORAGE_*`` fields."""
        url = urlparse(settings.resolved_storage_url)
        if not url.netloc:
            raise ValueError(f"REEL_STORAGE_URL must name a bucket (s3://media/reel), got {url.geturl()!r}")
        client = boto3.client(
            "s3",
            endpoint_url=settings.storage_endpoint_url,
            region_name=settings.storage_region,
            aws_access_key_id=settings.storage_access_key,
            aws_secret_access_key=settings.storage_secret_key,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": settings.storage_addressing_style},
                retries={"max_attempts": 5, "mode": "standard"},
                connect_timeout=10,
                read_timeout=60,
            ),
        )
        return cls(client, url.netloc, url.path, settings)

    def object_key(self, key: str) -> str:
        """The bucket key of a storage key; refuses keys that could reach outside a project's tasks."""
        parts = key.split("/")
        if not key.startswith("projects/") or any(p in ("", ".", "..") for p in parts):
            raise ValueError(f"storage key must be projects/<project>/tasks/<task>/<file>, got {key!r}")
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, path: Path, media_type: str) -> int:
        size = check_output(path, media_type, self.settings)
        self.client.upload_file(
            str(path),
            self.bucket,
            self.object_key(key),
            ExtraArgs={"ContentType": media_type},
            Config=self.transfer,
        )
        return size

    def url(self, key: str, *, media_type: str, filename: str, ttl_s: int) -> str:
        safe = filename.replace('"', "").replace("\\", "")
        disposition = f"inline; filename=\"{safe}\"; filename*=UTF-8''{quote(filename)}"
        return str(
            self.client.generate_presigned_url(
                "get_object",
                Params={
                    "Bucket": self.bucket,
                    "Key": self.object_key(key),
                    "ResponseContentType": media_type,
                    "ResponseContentDisposition": disposition,
                },
                ExpiresIn=max(1, min(int(ttl_s), MAX_PRESIGN_S)),
            )
        )

    def durable_url(self, key: str) -> str | None:
        base = self.settings.storage_public_url
        return f"{base.rstrip('/')}/{quote(self.object_key(key))}" if base else None

    def read_bytes(self, key: str) -> bytes:
        return bytes(self.client.get_object(Bucket=self.bucket, Key=self.object_key(key))["Body"].read())

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.object_key(key))

    def delete_prefix(self, prefix: str) -> None:
        full = self.object_key(prefix.rstrip("/")) + "/"
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=full):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:  # a list page holds at most 1000 keys, the most delete_objects takes
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True})

    def check(self) -> None:
        self.client.head_bucket(Bucket=self.bucket)
