//! The bands ADM works on: the four of one DWT level and the three detail bands of a
//! quantity derived from them, each row-major with stride = band width.
//!
//! A band only ever grows ([`Bands::grow_to`], [`DetailBands::grow_to`]): it keeps the
//! size of the largest scale it served, and each scale reads and writes its own
//! `width × height` entries by index, so the bands of scales 1–3 are not zeroed again at
//! every frame.

/// The four bands of one DWT level, row-major with stride = band width.
#[derive(Debug, Default, Clone)]
pub(super) struct Bands<T> {
    pub(super) a: Vec<T>,
    pub(super) h: Vec<T>,
    pub(super) v: Vec<T>,
    pub(super) d: Vec<T>,
}

impl<T: Copy + Default> Bands<T> {
    /// Makes every band hold at least `n` entries (see [`grow_to`]).
    pub(super) fn grow_to(&mut self, n: usize) {
        for b in [&mut self.a, &mut self.h, &mut self.v, &mut self.d] {
            grow_to(b, n);
        }
    }
}

/// The three detail bands (H, V, D) of a derived quantity.
#[derive(Debug, Default, Clone)]
pub(super) struct DetailBands<T> {
    pub(super) bands: [Vec<T>; 3],
}

impl<T: Copy + Default> DetailBands<T> {
    /// Makes every band hold at least `n` entries (see [`grow_to`]).
    pub(super) fn grow_to(&mut self, n: usize) {
        for b in &mut self.bands {
            grow_to(b, n);
        }
    }
}

/// Makes `band` hold at least `n` entries, never fewer than it holds: every reader and
/// writer indexes a scale's rows by its own width, so a band keeps the size of the
/// largest scale it served. Shrinking it at the small scales would make the next frame's
/// first scale zero megabytes of entries again that it then overwrites.
fn grow_to<T: Copy + Default>(band: &mut Vec<T>, n: usize) {
    if band.len() < n {
        band.resize(n, T::default());
    }
}
