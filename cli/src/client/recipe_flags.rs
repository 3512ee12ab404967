//! The ladder recipe's flags (`submit`, `dev`): zero and empty values mean the scheduler's
//! defaults, which checks them all (`shotfarm_proto::recipe::LadderRecipe::from_wire`); only a
//! rung's spelling is checked here.

use shotfarm_proto::v1;

#[derive(Debug, Clone, Default, clap::Args)]
pub struct RecipeFlags {
    /// How the ladder is made: fixed (the table fitted to the source; the default), per-title
    /// (rungs on the title's rate-quality hull, from trial encodes), per-shot (per-title rungs,
    /// every shot group at its own quality setting) or custom (exactly the --rung list).
    #[arg(long)]
    pub ladder: Option<String>,
    /// Your own rung, WIDTHxHEIGHT@KBPS[:PEAK_KBPS[:BUFFER_KBPS]]; repeatable (a custom ladder).
    #[arg(long = "rung", value_name = "WxH@KBPS", value_parser = parse_rung)]
    pub rungs: Vec<v1::RecipeRung>,
    /// The top rung's VMAF target (20..=100; default 95).
    #[arg(long)]
    pub target_vmaf: Option<f64>,
    /// No rung below this bitrate (kb/s).
    #[arg(long)]
    pub floor_kbps: Option<u32>,
    /// No rung above this bitrate (kb/s).
    #[arg(long)]
    pub ceiling_kbps: Option<u32>,
    /// At most this many rungs per codec, the best kept (1..=20).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub max_rungs: Option<u32>,
    /// The bitrate ratio between neighbouring rungs (1.1..=4; default 1.5).
    #[arg(long)]
    pub rung_spacing: Option<f64>,
    /// The encoder preset: ultrafast, superfast, veryfast, faster, fast, medium (default),
    /// slow, slower, veryslow.
    #[arg(long)]
    pub preset: Option<String>,
}

impl RecipeFlags {
    /// The recipe these flags ask for; `None` when no flag is given (the default recipe).
    pub fn to_wire(&self) -> Option<v1::LadderRecipe> {
        let given = self.ladder.is_some()
            || !self.rungs.is_empty()
            || self.target_vmaf.is_some()
            || self.floor_kbps.is_some()
            || self.ceiling_kbps.is_some()
            || self.max_rungs.is_some()
            || self.rung_spacing.is_some()
            || self.preset.is_some();
        given.then(|| v1::LadderRecipe {
            version: shotfarm_proto::recipe::RECIPE_VERSION,
            ladder: self.ladder.clone().unwrap_or_default(),
            target_vmaf: self.target_vmaf.unwrap_or_default(),
            floor_kbps: self.floor_kbps.unwrap_or_default(),
            ceiling_kbps: self.ceiling_kbps.unwrap_or_default(),
            max_rungs: self.max_rungs.unwrap_or_default(),
            spacing: self.rung_spacing.unwrap_or_default(),
            preset: self.preset.clone().unwrap_or_default(),
            rungs: self.rungs.clone(),
        })
    }
}

/// `1280x720@3000`, `1280x720@3000:4500`, `1280x720@3000:4500:6000`.
pub fn parse_rung(text: &str) -> Result<v1::RecipeRung, String> {
    let wrong = || format!("{text:?}: a rung is WIDTHxHEIGHT@KBPS[:PEAK_KBPS[:BUFFER_KBPS]], e.g. 1280x720@3000");
    let (size, rates) = text.split_once('@').ok_or_else(wrong)?;
    let (width, height) = size.split_once(['x', 'X']).ok_or_else(wrong)?;
    let number = |part: &str| part.trim().parse::<u32>().map_err(|_| wrong());
    let mut rates = rates.split(':');
    let bitrate_kbps = number(rates.next().unwrap_or_default())?;
    let maxrate_kbps = rates.next().map(number).transpose()?.unwrap_or(0);
    let bufsize_kbps = rates.next().map(number).transpose()?.unwrap_or(0);
    if rates.next().is_some() {
        return Err(wrong());
    }
    Ok(v1::RecipeRung { width: number(width)?, height: number(height)?, bitrate_kbps, maxrate_kbps, bufsize_kbps })
}

/// A rung as [`parse_rung`] reads it: `WIDTHxHEIGHT@KBPS`, then `:PEAK` and `:BUFFER` where set.
pub fn format_rung(rung: &v1::RecipeRung) -> String {
    let mut text = format!("{}x{}@{}", rung.width, rung.height, rung.bitrate_kbps);
    if rung.maxrate_kbps != 0 || rung.bufsize_kbps != 0 {
        text.push_str(&format!(":{}", rung.maxrate_kbps));
    }
    if rung.bufsize_kbps != 0 {
        text.push_str(&format!(":{}", rung.bufsize_kbps));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rungs_are_read_with_their_optional_peak_and_buffer() {
        assert_eq!(parse_rung("1280x720@3000").unwrap(), v1::RecipeRung { width: 1280, height: 720, bitrate_kbps: 3000, maxrate_kbps: 0, bufsize_kbps: 0 });
        assert_eq!(parse_rung("640X360@800:1200:1600").unwrap(), v1::RecipeRung { width: 640, height: 360, bitrate_kbps: 800, maxrate_kbps: 1200, bufsize_kbps: 1600 });
        for bad in ["1280x720", "1280@3000", "axb@1", "1280x720@3000:1:2:3", "1280x720@-5"] {
            assert!(parse_rung(bad).unwrap_err().contains("WIDTHxHEIGHT@KBPS"), "{bad}");
        }
    }

    #[test]
    fn no_flag_is_the_default_recipe() {
        assert_eq!(RecipeFlags::default().to_wire(), None);
        let flags = RecipeFlags { preset: Some("fast".into()), ..RecipeFlags::default() };
        assert_eq!(flags.to_wire().map(|recipe| recipe.preset), Some("fast".to_owned()));
    }
}
