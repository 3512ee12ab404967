//! `shotfarm-cluster-tests`: the whole farm as real processes, for tests and benchmarks.
//!
//! | module | what |
//! | --- | --- |
//! | [`cluster`] | real scheduler replicas on loopback: start, kill -9, restart, pause, resume, find the leader, `wait_until` |
//! | [`ports`] | loopback ports below the ephemeral range, claimed across test processes by `flock` |
//! | [`proxy`] | a controllable TCP proxy per link: heal, blackhole, drop one direction, delay, reset |
//! | [`agents`] | real `shotfarm agent` processes (own process group, work dir, log): kill -9, restart on the same journal, pause, resume, SIGTERM; [`agents::Farm`] = cluster + agents + media dir |
//! | [`media`] | tiny sources synthesized with ffmpeg, every frame stamped with its index; frame-exact checks of a job's outputs |
//! | [`s3_server`] | a real S3-protocol server (moto) on loopback for `s3://` jobs; objects in and out with curl's SigV4 |
//! | [`loopback_http`] | an HTTP/1.1 server on a free loopback port with one handler, stopped by a token (the receivers below) |
//! | [`callback_receiver`] | a job-callback receiver on loopback: checks every signature, refuses each event's first attempt on request, deduplicates by event id |
//! | [`otlp_collector`] | an OTLP/HTTP trace collector on loopback: keeps every span with the service that sent it |
//! | [`scrape`] | `GET /metrics` as Prometheus does: the farm's TLS with a client certificate or a bearer token, or plaintext; kept-alive connections |
//! | [`openmetrics`] | a strict reader of the OpenMetrics text format: families, types, labels, values, histogram buckets |
//! | [`swarm`] | many simulated agents in one process, answering assignments with synthetic outputs |
//! | [`history`] | `Recorder`: client calls (submit, get, cancel, cordon/drain, list nodes) with invoke/return instants and outcomes |
//! | [`invariants`] | safety invariants over every replica's audit trail (`--audit DIR`), and no acknowledged job lost |
//! | [`linearizability`] | `check(&history)`: a porcupine-style per-key linearizability checker with the scheduler's semantics |

pub mod agents;
pub mod callback_receiver;
pub mod cluster;
pub mod ports;
pub mod proxy;
pub mod history;
pub mod invariants;
pub mod linearizability;
pub mod loopback_http;
pub mod media;
pub mod s3_server;
pub mod openmetrics;
pub mod otlp_collector;
pub mod scrape;
pub mod swarm;
