//! The bands ADM works on: the four of one DWT level and the three detail bands of a
//! quantity derived from them, each row-major with stride = band width.

/// The four bands of one DWT level, row-major with stride = band width.
#[derive(Debug, Default, Clone)]
pub(super) struct Bands<T> {
    pub(super) a: Vec<T>,
    pub(super) h: Vec<T>,
    pub(super) v: Vec<T>,
    pub(super) d: Vec<T>,
}

impl<T: Copy + Default> Bands<T> {
    pub(super) fn resize(&mut self, n: usize) {
        for b in [&mut self.a, &mut self.h, &mut self.v, &mut self.d] {
            b.resize(n, T::default());
        }
    }
}

/// The three detail bands (H, V, D) of a derived quantity.
#[derive(Debug, Default, Clone)]
pub(super) struct DetailBands<T> {
    pub(super) bands: [Vec<T>; 3],
}

impl<T: Copy + Default> DetailBands<T> {
    pub(super) fn resize(&mut self, n: usize) {
        for b in &mut self.bands {
            b.resize(n, T::default());
        }
    }
}
