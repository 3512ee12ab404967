//! A raft snapshot message as a stream of pieces (`RaftService.SendSnapshot`), both ways: the
//! sender cuts the serialized message into [`PIECE_BYTES`] pieces behind a header; the
//! receiver's [`Reassembly`] takes them in order and refuses, before buffering, anything that
//! does not add up — a missing or repeated header, more bytes than the header announced or
//! than [`MAX_SNAPSHOT_BYTES`], fewer at the end.

use shotfarm_proto::v1::{SnapshotHeader, SnapshotPiece};

/// Data per piece: far below every per-message limit, large enough that the framing costs
/// nothing.
pub const PIECE_BYTES: usize = 1 << 20;
/// The largest snapshot a replica accepts. The state's snapshot is bounded by the retention of
/// finished jobs' detail (`machine::retention`), far below this.
pub const MAX_SNAPSHOT_BYTES: u64 = 1 << 30;

/// `message` (a serialized MsgSnapshot) as pieces, the header on the first.
pub fn pieces(mut header: SnapshotHeader, message: &[u8]) -> Vec<SnapshotPiece> {
    header.total_bytes = message.len() as u64;
    let mut header = Some(header);
    let mut pieces: Vec<SnapshotPiece> =
        message.chunks(PIECE_BYTES).map(|data| SnapshotPiece { header: header.take(), data: data.to_vec() }).collect();
    if let Some(header) = header {
        // An empty message still announces itself.
        pieces.push(SnapshotPiece { header: Some(header), data: Vec::new() });
    }
    pieces
}

/// Why a stream of pieces is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PieceError {
    #[error("the first snapshot piece carries no header")]
    NoHeader,
    #[error("a snapshot piece after the first carries a header; one stream carries one snapshot")]
    SecondHeader,
    #[error("the snapshot announces {announced} bytes; a replica accepts at most {MAX_SNAPSHOT_BYTES}")]
    TooLarge { announced: u64 },
    #[error("the snapshot pieces hold more than the {announced} bytes announced")]
    MoreThanAnnounced { announced: u64 },
    #[error("the snapshot stream ended after {received} of the {announced} bytes announced")]
    Incomplete { received: u64, announced: u64 },
    #[error("the snapshot stream is empty")]
    Empty,
}

/// The pieces received so far, checked as they arrive.
#[derive(Debug, Default)]
pub struct Reassembly {
    header: Option<SnapshotHeader>,
    bytes: Vec<u8>,
}

impl Reassembly {
    /// Takes the next piece; the header is checked on the first.
    pub fn push(&mut self, piece: SnapshotPiece) -> Result<(), PieceError> {
        let announced = match (&self.header, piece.header) {
            (None, None) => return Err(PieceError::NoHeader),
            (Some(_), Some(_)) => return Err(PieceError::SecondHeader),
            (None, Some(header)) => {
                if header.total_bytes > MAX_SNAPSHOT_BYTES {
                    return Err(PieceError::TooLarge { announced: header.total_bytes });
                }
                let announced = header.total_bytes;
                self.header = Some(header);
                announced
            }
            (Some(header), None) => header.total_bytes,
        };
        if (self.bytes.len() + piece.data.len()) as u64 > announced {
            return Err(PieceError::MoreThanAnnounced { announced });
        }
        self.bytes.extend_from_slice(&piece.data);
        Ok(())
    }

    /// The header and the whole message, once every announced byte arrived.
    pub fn finish(self) -> Result<(SnapshotHeader, Vec<u8>), PieceError> {
        let header = self.header.ok_or(PieceError::Empty)?;
        if self.bytes.len() as u64 != header.total_bytes {
            return Err(PieceError::Incomplete { received: self.bytes.len() as u64, announced: header.total_bytes });
        }
        Ok((header, self.bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> SnapshotHeader {
        SnapshotHeader { from: 2, from_addr: "127.0.0.1:1".to_owned(), cluster_id: 7, total_bytes: 0 }
    }

    fn reassemble(pieces: Vec<SnapshotPiece>) -> Result<(SnapshotHeader, Vec<u8>), PieceError> {
        let mut reassembly = Reassembly::default();
        for piece in pieces {
            reassembly.push(piece)?;
        }
        reassembly.finish()
    }

    #[test]
    fn a_message_larger_than_any_grpc_message_comes_back_whole() {
        let message: Vec<u8> = (0..(3 * PIECE_BYTES + 17)).map(|index| (index % 251) as u8).collect();
        let pieces = pieces(header(), &message);
        assert_eq!(pieces.len(), 4);
        assert!(pieces.iter().all(|piece| piece.data.len() <= PIECE_BYTES));
        assert!(pieces.iter().skip(1).all(|piece| piece.header.is_none()));
        let (header, bytes) = reassemble(pieces).unwrap();
        assert_eq!((header.from, header.cluster_id, header.total_bytes), (2, 7, message.len() as u64));
        assert_eq!(bytes, message);
        assert_eq!(reassemble(super::pieces(self::header(), &[])).unwrap().1, Vec::<u8>::new());
    }

    #[test]
    fn streams_that_do_not_add_up_are_refused() {
        let message = vec![1u8; PIECE_BYTES + 10];
        let good = pieces(header(), &message);

        let mut headless = good.clone();
        headless[0].header = None;
        assert_eq!(reassemble(headless), Err(PieceError::NoHeader));

        let mut two_headers = good.clone();
        two_headers[1].header = Some(header());
        assert_eq!(reassemble(two_headers), Err(PieceError::SecondHeader));

        let mut cut = good.clone();
        cut.pop();
        assert_eq!(reassemble(cut), Err(PieceError::Incomplete { received: PIECE_BYTES as u64, announced: message.len() as u64 }));

        let mut padded = good.clone();
        padded.push(SnapshotPiece { header: None, data: vec![0] });
        assert_eq!(reassemble(padded), Err(PieceError::MoreThanAnnounced { announced: message.len() as u64 }));

        let huge = SnapshotPiece { header: Some(SnapshotHeader { total_bytes: MAX_SNAPSHOT_BYTES + 1, ..header() }), data: Vec::new() };
        assert_eq!(reassemble(vec![huge]), Err(PieceError::TooLarge { announced: MAX_SNAPSHOT_BYTES + 1 }));
        assert_eq!(reassemble(Vec::new()), Err(PieceError::Empty));
    }
}
