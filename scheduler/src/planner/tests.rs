//! How the planner groups a chunk's rungs into encode and score tasks. The DAG it builds for a whole
//! job is tested from the floor above, through `apply` (`machine/job_dags.rs`).

use shotfarm_proto::pipeline::{Codec, Rung};

use super::{encode_groups, score_groups};

fn rung(name: &str, codec: Codec) -> Rung {
    Rung { name: name.to_owned(), codec, width: 640, height: 360, bitrate_kbps: 800, maxrate_kbps: 1200, bufsize_kbps: 1600 }
}

#[test]
fn encode_groups_are_runs_of_one_codec_at_most_n_long() {
    let rungs = [rung("a", Codec::H264), rung("b", Codec::H264), rung("c", Codec::H264), rung("d", Codec::Hevc), rung("e", Codec::Hevc)];
    assert_eq!(encode_groups(&rungs, 1), vec![0..1, 1..2, 2..3, 3..4, 4..5]);
    assert_eq!(encode_groups(&rungs, 2), vec![0..2, 2..3, 3..5]);
    assert_eq!(encode_groups(&rungs, 8), vec![0..3, 3..5]);
    assert_eq!(encode_groups(&rungs, 0), encode_groups(&rungs, 1), "0 means one rung per task");
    assert!(encode_groups(&[], 4).is_empty());
}

#[test]
fn score_groups_are_whole_runs_of_one_codec() {
    let rungs = [rung("a", Codec::H264), rung("b", Codec::H264), rung("c", Codec::H264), rung("d", Codec::Hevc), rung("e", Codec::Hevc), rung("f", Codec::H264)];
    assert_eq!(score_groups(&rungs), vec![0..3, 3..5, 5..6]);
    assert!(score_groups(&[]).is_empty());
}
