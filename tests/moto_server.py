"""moto in server mode on 127.0.0.1, for checking generated policies the way IAM would: set up
buckets, objects and a user whose only policy is ours with authentication off, then turn IAM
enforcement on (`/moto-api/reset-auth` 0, as INITIAL_NO_AUTH_ACTION_COUNT=0) and probe S3 as
that user. Nothing leaves this machine: every client's endpoint is the loopback server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from contextlib import contextmanager

import boto3
import botocore.exceptions
import httpx

from tests.conftest import free_port

REGION = "eu-west-1"
SETUP_KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


class MotoServer:
    def __init__(self, url: str):
        self.url = url

    def client(self, service: str, **keys):
        return boto3.client(service, endpoint_url=self.url, region_name=REGION, **(keys or SETUP_KEYS))

    def enforce(self, on: bool) -> None:
        # the number of requests served before IAM is enforced: 0 = from now on
        body = b"0" if on else b"1000000000"
        httpx.post(self.url + "/moto-api/reset-auth", content=body, timeout=10).raise_for_status()

    def reset(self) -> None:
        httpx.post(self.url + "/moto-api/reset", timeout=10).raise_for_status()

    def user_with_policy(self, name: str, policy: dict) -> dict:
        """A user whose only permissions are `policy`; its access key as boto3 keyword arguments."""
        iam = self.client("iam")
        iam.create_user(UserName=name)
        iam.put_user_policy(UserName=name, PolicyName="generated", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}


def probe(s3, probe_spec: str) -> bool:
    """Whether S3 allows one probe ("get|put|list bucket/key") to the client's principal."""
    verb, _, where = probe_spec.partition(" ")
    bucket, _, key = where.partition("/")
    try:
        if verb == "get":
            s3.get_object(Bucket=bucket, Key=key)
        elif verb == "put":
            s3.put_object(Bucket=bucket, Key=key, Body=b"probe")
        elif verb == "list":
            s3.list_objects_v2(Bucket=bucket, Prefix=key)
        else:
            raise ValueError(f"unknown probe {probe_spec!r}")
    except botocore.exceptions.ClientError as exc:
        if exc.response["Error"]["Code"] in ("AccessDenied", "403"):
            return False
        raise
    return True


@contextmanager
def moto_server():
    port = free_port()
    env = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION=REGION)
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(url + "/moto-api/", timeout=2)
                break
            except httpx.HTTPError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto server did not start: " + (proc.stderr.read().decode()
                                                                         if proc.stderr else "")) from None
                time.sleep(0.1)
        yield MotoServer(url)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
