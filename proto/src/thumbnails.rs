//! A job's thumbnail options: JPEG sprite sheets of tiles every `interval_seconds`, and the
//! poster's time. [`ThumbnailOptions::from_wire`] is the one check of what a client sends
//! (`v1::Thumbnails`: every zero number means its default; unset means on with the
//! defaults); the checked options are stored with the job and travel in the package task spec.

use serde::{Deserialize, Serialize};

use crate::v1;

/// Seconds between thumbnails when the job gives none.
pub const DEFAULT_INTERVAL_SECONDS: u32 = 10;
/// A tile's width when the job gives none (its height keeps the picture's aspect).
pub const DEFAULT_TILE_WIDTH: u32 = 160;
/// Tiles per sheet across and down when the job gives none.
pub const DEFAULT_GRID: u32 = 5;
/// The longest interval: an hour.
pub const MAX_INTERVAL_SECONDS: u32 = 3600;
/// Tile widths allowed (even, as JPEG 4:2:0 wants).
pub const MIN_TILE_WIDTH: u32 = 32;
pub const MAX_TILE_WIDTH: u32 = 1280;
/// Tiles across or down a sheet at most.
pub const MAX_GRID: u32 = 20;

/// What thumbnails a job gets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThumbnailOptions {
    /// One tile every this many seconds (cue `k` shows the frame at `k * interval_seconds`).
    #[serde(default = "default_interval")]
    pub interval_seconds: u32,
    #[serde(default = "default_tile_width")]
    pub tile_width: u32,
    #[serde(default = "default_grid")]
    pub columns: u32,
    #[serde(default = "default_grid")]
    pub rows: u32,
    /// The poster's time in seconds; none: the middle frame of the longest shot.
    #[serde(default)]
    pub poster_seconds: Option<f64>,
}

fn default_interval() -> u32 {
    DEFAULT_INTERVAL_SECONDS
}

fn default_tile_width() -> u32 {
    DEFAULT_TILE_WIDTH
}

fn default_grid() -> u32 {
    DEFAULT_GRID
}

impl Default for ThumbnailOptions {
    fn default() -> Self {
        Self { interval_seconds: DEFAULT_INTERVAL_SECONDS, tile_width: DEFAULT_TILE_WIDTH, columns: DEFAULT_GRID, rows: DEFAULT_GRID, poster_seconds: None }
    }
}

/// Why thumbnail options were refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ThumbnailOptionsError {
    #[error("thumbnail interval {0} s is out of range; give 1 to {MAX_INTERVAL_SECONDS} seconds")]
    Interval(u32),
    #[error("thumbnail tile width {0} px is out of range; give an even width from {MIN_TILE_WIDTH} to {MAX_TILE_WIDTH}")]
    TileWidth(u32),
    #[error("thumbnail grid {columns}x{rows} is out of range; give 1 to {MAX_GRID} tiles across and down")]
    Grid { columns: u32, rows: u32 },
    #[error("poster time {0} s is not a time in the title; give seconds from 0 to before its end, or none for the middle of the longest shot")]
    PosterTime(f64),
}

impl ThumbnailOptions {
    /// The checked options of a client's `v1::Thumbnails` (none: disabled).
    pub fn from_wire(wire: Option<&v1::Thumbnails>) -> Result<Option<Self>, ThumbnailOptionsError> {
        let Some(wire) = wire else { return Ok(Some(Self::default())) };
        if wire.disabled {
            return Ok(None);
        }
        let or_default = |value: u32, default: u32| if value == 0 { default } else { value };
        let options = Self {
            interval_seconds: or_default(wire.interval_seconds, DEFAULT_INTERVAL_SECONDS),
            tile_width: or_default(wire.tile_width, DEFAULT_TILE_WIDTH),
            columns: or_default(wire.columns, DEFAULT_GRID),
            rows: or_default(wire.rows, DEFAULT_GRID),
            poster_seconds: wire.poster_seconds,
        };
        options.check(None)?;
        Ok(Some(options))
    }

    /// What `from_wire` reads back as `options`.
    pub fn to_wire(options: Option<&Self>) -> v1::Thumbnails {
        match options {
            None => v1::Thumbnails { disabled: true, ..Default::default() },
            Some(options) => v1::Thumbnails {
                disabled: false,
                interval_seconds: options.interval_seconds,
                tile_width: options.tile_width,
                columns: options.columns,
                rows: options.rows,
                poster_seconds: options.poster_seconds,
            },
        }
    }

    /// The options if every value is in range; `duration_seconds` (when known) bounds the poster's time.
    pub fn check(&self, duration_seconds: Option<f64>) -> Result<(), ThumbnailOptionsError> {
        if !(1..=MAX_INTERVAL_SECONDS).contains(&self.interval_seconds) {
            return Err(ThumbnailOptionsError::Interval(self.interval_seconds));
        }
        if !(MIN_TILE_WIDTH..=MAX_TILE_WIDTH).contains(&self.tile_width) || !self.tile_width.is_multiple_of(2) {
            return Err(ThumbnailOptionsError::TileWidth(self.tile_width));
        }
        if !(1..=MAX_GRID).contains(&self.columns) || !(1..=MAX_GRID).contains(&self.rows) {
            return Err(ThumbnailOptionsError::Grid { columns: self.columns, rows: self.rows });
        }
        if let Some(seconds) = self.poster_seconds
            && (!seconds.is_finite() || seconds < 0.0 || duration_seconds.is_some_and(|duration| seconds >= duration))
        {
            return Err(ThumbnailOptionsError::PosterTime(seconds));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_pass_and_each_bad_value_is_named() {
        assert_eq!(ThumbnailOptions::default().check(Some(1.0)), Ok(()));
        let with = |change: fn(&mut ThumbnailOptions)| {
            let mut options = ThumbnailOptions::default();
            change(&mut options);
            options.check(Some(60.0))
        };
        assert_eq!(with(|options| options.interval_seconds = 0), Err(ThumbnailOptionsError::Interval(0)));
        assert_eq!(with(|options| options.tile_width = 161), Err(ThumbnailOptionsError::TileWidth(161)));
        assert_eq!(with(|options| options.rows = 21), Err(ThumbnailOptionsError::Grid { columns: 5, rows: 21 }));
        assert_eq!(with(|options| options.poster_seconds = Some(60.0)), Err(ThumbnailOptionsError::PosterTime(60.0)));
        assert_eq!(with(|options| options.poster_seconds = Some(f64::NAN)).map_err(|error| error.to_string().contains("poster time")), Err(true));
        assert_eq!(with(|options| options.poster_seconds = Some(59.9)), Ok(()));
    }

    #[test]
    fn the_wire_form_reads_back_and_zeros_are_defaults() {
        assert_eq!(ThumbnailOptions::from_wire(None), Ok(Some(ThumbnailOptions::default())));
        assert_eq!(ThumbnailOptions::from_wire(Some(&v1::Thumbnails::default())), Ok(Some(ThumbnailOptions::default())));
        let asked = ThumbnailOptions { interval_seconds: 4, tile_width: 240, columns: 8, rows: 3, poster_seconds: Some(12.5) };
        assert_eq!(ThumbnailOptions::from_wire(Some(&ThumbnailOptions::to_wire(Some(&asked)))), Ok(Some(asked)));
        assert_eq!(ThumbnailOptions::from_wire(Some(&ThumbnailOptions::to_wire(None))), Ok(None));
        let bad = v1::Thumbnails { interval_seconds: 7200, ..Default::default() };
        assert_eq!(ThumbnailOptions::from_wire(Some(&bad)), Err(ThumbnailOptionsError::Interval(7200)));
        let before_start = v1::Thumbnails { poster_seconds: Some(-1.0), ..Default::default() };
        assert_eq!(ThumbnailOptions::from_wire(Some(&before_start)), Err(ThumbnailOptionsError::PosterTime(-1.0)));
    }

    #[test]
    fn missing_fields_take_their_defaults() {
        let options: ThumbnailOptions = serde_json::from_str(r#"{"interval_seconds": 4}"#).unwrap_or_default();
        assert_eq!(options, ThumbnailOptions { interval_seconds: 4, ..ThumbnailOptions::default() });
    }
}
