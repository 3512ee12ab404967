//! The parts of a band ADM's steps cover: decoupling and CSF the frame minus a 10 %
//! border (less one filter tap), the cube sums the frame minus the whole border.

const BORDER_FACTOR: f64 = 0.1;

/// `(int)(n * 0.1 - 0.5 - extra)`, truncated toward zero like C.
#[inline]
fn border(n: usize, extra: f64) -> i32 {
    (n as f64 * BORDER_FACTOR - 0.5 - extra) as i32
}

/// The region decoupling and CSF work on: the 10 % border minus one filter tap.
pub(crate) fn extended_region(w: usize, h: usize) -> (usize, usize, usize, usize) {
    let left = border(w, 1.0).max(0);
    let top = border(h, 1.0).max(0);
    let right = (w as i32 - left + 2).min(w as i32);
    let bottom = (h as i32 - top + 2).min(h as i32);
    (top as usize, bottom.max(0) as usize, left as usize, right.max(0) as usize)
}

/// The region the sums run over: the frame minus a 10 % border.
pub(super) fn score_region(w: usize, h: usize) -> (i32, i32, i32, i32) {
    let left = border(w, 0.0);
    let top = border(h, 0.0);
    (top, h as i32 - top, left, w as i32 - left)
}

/// The rows and columns a score sums over: the band minus a 10 % border, clamped to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SumRegion {
    pub rows: (usize, usize),
    pub cols: (usize, usize),
    /// `(bottom − top) · (right − left)` as libvmaf computes it (unclamped).
    pub area: i32,
}

impl SumRegion {
    pub(crate) fn of(w: usize, h: usize) -> Self {
        let (top, bottom, left, right) = score_region(w, h);
        SumRegion {
            rows: (top.max(0) as usize, (bottom.max(0) as usize).min(h)),
            cols: (left.max(0) as usize, (right.max(0) as usize).min(w)),
            area: (bottom - top) * (right - left),
        }
    }
}
