//! A video decoded in pieces and joined into exactly what one decode of the whole gives.
//!
//! A piece is the frames of one span of the video ([`super::frame_analysis::DecodeSpan`]), each
//! fingerprinted with what changed from the frame before it ([`FrameChange`]). Nothing before a
//! piece's first frame was decoded with it, so that frame's change is measured when the pieces
//! are joined, against the last frame of the piece before, which every piece keeps
//! ([`PieceEdges`]: two analysis frames). Shots are decided only then, over the whole video's
//! changes in order: the decision is causal over the scores (a shot's length, its recent
//! average score), so it needs the pieces before.

use serde::{Deserialize, Serialize};
use shotfarm_kernels::scene::{ShotDetector, cut_score, temporal_information};

use super::frame_analysis::{AnalysisDepth, AnalyzedFrame, DecodeComplaint, DecodedVideo, FrameChange, MAX_COMPLAINTS_KEPT, SceneFeatures};

/// The first and last analysis frames (8-bit luma) of a piece.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PieceEdges {
    pub first: Vec<u8>,
    pub last: Vec<u8>,
}

/// What the decode of one piece produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecodedPiece {
    pub frames: Vec<AnalyzedFrame>,
    /// Per frame with [`AnalysisDepth::Full`], else empty; the first frame's change is `None`.
    pub changes: Vec<FrameChange>,
    /// With [`AnalysisDepth::Full`] and at least one frame.
    pub edges: Option<PieceEdges>,
    /// The decoder's complaints, `near_frame` counted within the piece, at most
    /// [`MAX_COMPLAINTS_KEPT`]…
    pub complaints: Vec<DecodeComplaint>,
    /// …and how many there were.
    pub complaint_count: u64,
}

/// Joins the pieces of a video, in presentation order, into the whole video's decode.
pub fn join_pieces(pieces: Vec<DecodedPiece>, depth: AnalysisDepth) -> DecodedVideo {
    let total: usize = pieces.iter().map(|piece| piece.frames.len()).sum();
    let mut frames = Vec::with_capacity(total);
    let mut changes: Vec<FrameChange> = Vec::with_capacity(total);
    let mut complaints = Vec::new();
    let mut complaint_count = 0;
    let mut last_before: Option<Vec<u8>> = None;
    for piece in pieces {
        let offset = frames.len() as u64;
        let room = MAX_COMPLAINTS_KEPT.saturating_sub(complaints.len());
        complaints.extend(piece.complaints.into_iter().take(room).map(|complaint| DecodeComplaint { near_frame: complaint.near_frame + offset, ..complaint }));
        complaint_count += piece.complaint_count;
        frames.extend(piece.frames);
        let mut piece_changes = piece.changes;
        if let (Some(before), Some(edges), Some(first_change)) = (&last_before, &piece.edges, piece_changes.first_mut()) {
            first_change.cut_score = Some(cut_score(before, &edges.first));
            first_change.temporal_information = Some(temporal_information(before, &edges.first));
        }
        changes.extend(piece_changes);
        if let Some(edges) = piece.edges {
            last_before = Some(edges.last);
        }
    }
    let scene = match depth {
        AnalysisDepth::Full(params) => decide_shots(&changes, params),
        AnalysisDepth::Fingerprints => Vec::new(),
    };
    DecodedVideo { frames, scene, complaints, complaint_count }
}

/// Each frame's scene features: the shot decisions over `changes` in order; a shot's first
/// frame has no temporal information.
fn decide_shots(changes: &[FrameChange], params: shotfarm_kernels::scene::ShotDetectionParams) -> Vec<SceneFeatures> {
    let mut detector = ShotDetector::new(params);
    changes
        .iter()
        .enumerate()
        .map(|(index, change)| {
            let cut = detector.push(change.cut_score);
            SceneFeatures {
                cut_score: change.cut_score.unwrap_or(0.0),
                starts_shot: cut || index == 0,
                spatial_information: change.spatial_information,
                temporal_information: if cut { 0.0 } else { change.temporal_information.unwrap_or(0.0) },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use shotfarm_kernels::fingerprint::Fingerprint;
    use shotfarm_kernels::scene::{CutScorer, ShotDetectionParams, spatial_information};

    use super::*;
    use crate::media::frame_analysis::{ANALYSIS_HEIGHT, ANALYSIS_WIDTH};

    /// Frame `t` of a video with cuts at 20 and 45: a gradient particular to the shot, with a
    /// bar moving across it.
    fn luma(t: usize) -> Vec<u8> {
        let shot = if t < 20 { 0 } else if t < 45 { 1 } else { 2 };
        (0..ANALYSIS_WIDTH * ANALYSIS_HEIGHT)
            .map(|i| {
                let (x, y) = (i % ANALYSIS_WIDTH, i / ANALYSIS_WIDTH);
                let base = [x * 2, 255 - y * 3, if (x / 8 + y / 8) % 2 == 0 { 20 } else { 230 }][shot];
                if x.abs_diff(t * 3 % ANALYSIS_WIDTH) < 4 { 255 } else { base.min(255) as u8 as usize }
            })
            .map(|value| value as u8)
            .collect()
    }

    /// A piece as the analysis thread makes it from `frames`, with one complaint at its second frame.
    fn piece(frames: &[Vec<u8>]) -> DecodedPiece {
        let mut scorer = CutScorer::default();
        let changes = frames
            .iter()
            .enumerate()
            .map(|(index, frame)| FrameChange {
                cut_score: scorer.push(frame),
                spatial_information: spatial_information(frame, ANALYSIS_WIDTH, ANALYSIS_HEIGHT),
                temporal_information: index.checked_sub(1).map(|before| temporal_information(&frames[before], frame)),
            })
            .collect();
        DecodedPiece {
            frames: frames
                .iter()
                .map(|frame| AnalyzedFrame { pts_seconds: None, keyframe: false, byte_position: None, fingerprint: Fingerprint::of_luma(frame, ANALYSIS_WIDTH, ANALYSIS_HEIGHT).unwrap(), sdr_fingerprint: None })
                .collect(),
            changes,
            edges: Some(PieceEdges { first: frames[0].clone(), last: frames[frames.len() - 1].clone() }),
            complaints: vec![DecodeComplaint { near_frame: 1, message: "concealing errors".into() }],
            complaint_count: 1,
        }
    }

    #[test]
    fn pieces_join_into_the_whole_decode_wherever_they_are_cut() {
        let depth = AnalysisDepth::Full(ShotDetectionParams::default());
        let frames: Vec<Vec<u8>> = (0..70).map(luma).collect();
        let whole = join_pieces(vec![piece(&frames)], depth);
        let starts: Vec<usize> = whole.scene.iter().enumerate().filter(|(_, scene)| scene.starts_shot).map(|(index, _)| index).collect();
        assert_eq!(starts, vec![0, 20, 45]);
        // Cut at a shot's start, just after it, inside a shot's minimum length, and at every frame.
        for cuts in [vec![20], vec![21], vec![3, 44, 46], (1..70).collect::<Vec<_>>()] {
            let mut bounds = vec![0];
            bounds.extend(&cuts);
            bounds.push(70);
            let pieces = bounds.windows(2).map(|span| piece(&frames[span[0]..span[1]])).collect();
            let joined = join_pieces(pieces, depth);
            assert_eq!(joined.frames, whole.frames, "cut at {cuts:?}");
            assert_eq!(joined.scene, whole.scene, "cut at {cuts:?}");
            assert_eq!(joined.complaint_count, bounds.len() as u64 - 1);
            let near: Vec<u64> = joined.complaints.iter().map(|complaint| complaint.near_frame).collect();
            let expected: Vec<u64> = bounds.iter().take(bounds.len() - 1).take(MAX_COMPLAINTS_KEPT).map(|&start| start as u64 + 1).collect();
            assert_eq!(near, expected, "cut at {cuts:?}");
        }
    }
}
