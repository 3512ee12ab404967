#!/usr/bin/env python3
"""Submit a job to a Shotfarm farm, watch it to completion and print its report.

Any replica's address will do: a follower relays every call to the leader, so this client
needs no leader-following logic. The gRPC stubs are generated from the farm's .proto files
at start (grpcio-tools), into a temporary directory: nothing generated is kept.

Authentication (a TLS farm): the farm's CA certificate (--ca) and either a client
certificate (--cert/--key, from `shotfarm certs issue --role submitter`) or a bearer token
(--token, from `shotfarm tokens create`). --insecure talks plaintext to an --insecure farm.

The result goes to stdout as one JSON object (the job, its renditions and their quality,
the report's location); progress goes to stderr.
"""

import argparse
import importlib
import json
import os
import sys
import tempfile
import time
import uuid

import grpc
from grpc_tools import protoc

DEFAULT_PROTO_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "proto", "proto")
FINAL_STATES = ("JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED")
# Codes a call may be retried on: a leader election, a replica restarting, a watch that
# ended because the leader changed.
RETRYABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


# What the summary prints of each rendition (RenditionQuality's fields).
RENDITION_FIELDS = (
    "name", "codec", "width", "height", "bitrate_kbps", "scored", "frames_scored",
    "vmaf_mean", "vmaf_harmonic_mean", "vmaf_min", "vmaf_p1", "psnr_y", "ssim",
)


class ClientError(Exception):
    """A refusal or failure, with what to do about it."""


def generate_stubs(proto_dir, out_dir):
    """Compiles every .proto under proto_dir into Python modules in out_dir."""
    sources = []
    for root, _, files in os.walk(proto_dir):
        sources += [os.path.join(root, name) for name in files if name.endswith(".proto")]
    if not sources:
        raise ClientError(f"no .proto files under {proto_dir}; pass --proto-dir (the repository's proto/proto)")
    well_known = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    args = ["protoc", f"-I{proto_dir}", f"-I{well_known}", f"--python_out={out_dir}", f"--grpc_python_out={out_dir}", *sources]
    if protoc.main(args) != 0:
        raise ClientError(f"protoc could not compile the .proto files under {proto_dir}")
    sys.path.insert(0, out_dir)
    return importlib.import_module("shotfarm.v1.jobs_pb2"), importlib.import_module("shotfarm.v1.jobs_pb2_grpc")


def read(path, what):
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError as err:
        raise ClientError(f"cannot read {what} {path}: {err}") from err


def open_channel(args):
    """A channel to the scheduler, and the metadata every call carries."""
    if args.insecure:
        return grpc.insecure_channel(args.scheduler), []
    if not args.ca:
        raise ClientError("a TLS farm needs --ca (the farm's ca.pem); or pass --insecure for an --insecure farm")
    if bool(args.cert) != bool(args.key):
        raise ClientError("--cert and --key go together")
    if not args.cert and not args.token:
        raise ClientError("pass a client certificate (--cert/--key) or a bearer token (--token)")
    credentials = grpc.ssl_channel_credentials(
        root_certificates=read(args.ca, "the CA certificate"),
        private_key=read(args.key, "the client key") if args.key else None,
        certificate_chain=read(args.cert, "the client certificate") if args.cert else None,
    )
    metadata = [("authorization", f"Bearer {args.token}")] if args.token else []
    return grpc.secure_channel(args.scheduler, credentials), metadata


def job_summary(jobs_pb2, job):
    return {
        "job_id": job.job_id,
        "state": jobs_pb2.JobState.Name(job.state),
        "owner": job.owner,
        "error": job.error,
        "tasks_done": job.tasks_done,
        "tasks_total": job.tasks_total,
        "report_url": job.report_url,
        "renditions": [{field: getattr(rendition, field) for field in RENDITION_FIELDS} for rendition in job.renditions],
    }


def call(method, request, metadata, timeout, attempts):
    """A unary call, tried again on a retryable status (a leader election, a replica
    restarting), up to `attempts` times with a growing pause. Safe for every JobService call:
    SubmitJob is idempotent under its request id."""
    for attempt in range(1, attempts + 1):
        try:
            return method(request, metadata=metadata, timeout=timeout)
        except grpc.RpcError as err:
            if err.code() not in RETRYABLE or attempt == attempts:
                raise
            print(f"{err.code().name}: {err.details()}; trying again", file=sys.stderr)
            time.sleep(min(0.1 * 2**attempt, 2.0))
    raise ClientError("no attempt was made")


def watch(stub, jobs_pb2, job_id, metadata, attempts):
    """Watches the job until it reaches a final state; watches again when a stream ends
    early with a retryable status (the leader changed). Returns the number of events seen."""
    events = 0
    for _ in range(attempts):
        try:
            for event in stub.WatchJob(jobs_pb2.WatchJobRequest(job_id=job_id), metadata=metadata):
                events += 1
                job = event.job
                state = jobs_pb2.JobState.Name(job.state)
                print(f"{job_id}: {state} {job.tasks_done}/{job.tasks_total} tasks", file=sys.stderr)
                if state in FINAL_STATES:
                    return events
        except grpc.RpcError as err:
            if err.code() not in RETRYABLE:
                raise
            print(f"the watch ended ({err.code().name}: {err.details()}); watching again", file=sys.stderr)
            time.sleep(0.2)
    raise ClientError(f"{job_id} did not finish within {attempts} watches")


def run(args):
    with tempfile.TemporaryDirectory(prefix="shotfarm-stubs-") as stubs:
        jobs_pb2, jobs_grpc = generate_stubs(args.proto_dir, stubs)
        channel, metadata = open_channel(args)
        with channel:
            stub = jobs_grpc.JobServiceStub(channel)
            spec = jobs_pb2.JobSpec(input_url=args.input, output_url=args.output, overwrite=args.overwrite)
            if args.chunk_ms:
                spec.chunk_min_ms, spec.chunk_max_ms = args.chunk_ms // 2, args.chunk_ms
            request = jobs_pb2.SubmitJobRequest(request_id=args.request_id or f"py-{uuid.uuid4()}", spec=spec)
            # Submitting is idempotent under the request id: a retry returns the same job.
            submitted = call(stub.SubmitJob, request, metadata, args.timeout, args.attempts)
            print(f"submitted {submitted.job_id} (created: {submitted.created})", file=sys.stderr)
            events = watch(stub, jobs_pb2, submitted.job_id, metadata, args.attempts)
            job = call(stub.GetJob, jobs_pb2.GetJobRequest(job_id=submitted.job_id), metadata, args.timeout, args.attempts)
            summary = job_summary(jobs_pb2, job)
            summary["events"] = events
            summary["request_id"] = request.request_id
            return summary


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scheduler", required=True, help="HOST:PORT of any replica")
    parser.add_argument("--ca", help="the farm's CA certificate (PEM)")
    parser.add_argument("--cert", help="a client certificate (PEM), from `shotfarm certs issue`")
    parser.add_argument("--key", help="its private key (PEM)")
    parser.add_argument("--token", default=os.environ.get("SHOTFARM_TOKEN"), help="a bearer token (default: $SHOTFARM_TOKEN)")
    parser.add_argument("--insecure", action="store_true", help="plaintext, for an --insecure farm")
    parser.add_argument("--input", required=True, help="the source: file:///abs/path or s3://bucket/key")
    parser.add_argument("--output", required=True, help="where the outputs go: file:///abs/dir or s3://bucket/prefix")
    parser.add_argument("--overwrite", action="store_true", help="replace what the output location holds")
    parser.add_argument("--chunk-ms", type=int, default=0, help="longest chunk in ms (0: the farm's default)")
    parser.add_argument("--request-id", help="makes the submission idempotent (default: a new uuid)")
    parser.add_argument("--proto-dir", default=DEFAULT_PROTO_DIR, help="the repository's proto/proto")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per unary call")
    parser.add_argument("--attempts", type=int, default=10, help="tries of a call (and watches) before giving up")
    args = parser.parse_args()
    try:
        summary = run(args)
    except ClientError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except grpc.RpcError as err:
        print(f"error: the farm answered {err.code().name}: {err.details()}", file=sys.stderr)
        return 1
    print(json.dumps(summary, indent=2))
    return 0 if summary["state"] == "JOB_STATE_SUCCEEDED" else 1


if __name__ == "__main__":
    sys.exit(main())
