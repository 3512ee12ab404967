//! What ffmpeg and ffprobe may do with an input file: open it and our pipes (`-protocol_whitelist
//! file,pipe`: no network, no `data:`, no `concat:` or `subfile:` protocol tricks) and read it
//! with a demuxer of a real video container or elementary stream (`-format_whitelist`). Text
//! renderers (`tty`, which turns a text file of secrets into frames showing it), playlists that
//! open other files or URLs (`hls`, `dash`, `concat`), image sequences (`image2`), generated
//! sources (`lavfi`) and every other demuxer are refused by ffmpeg itself at the probe, before
//! the file's content leads it anywhere. Every command that reads an input takes
//! [`INPUT_PINS`] before its `-i`.

/// The protocols an input may be opened with.
pub const INPUT_PROTOCOLS: &str = "file,pipe";

/// The demuxers an input may be read with (ffmpeg's short names; `mov` is mp4, m4a, 3gp…).
pub const INPUT_DEMUXERS: &str = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,mpegts,mpeg,avi,mxf,yuv4mpegpipe,h264,hevc,m4v,ivf,flv,nut";

/// The options, in order, that go right before an input's `-i`.
pub const INPUT_PINS: [&str; 4] = ["-protocol_whitelist", INPUT_PROTOCOLS, "-format_whitelist", INPUT_DEMUXERS];

/// Whether ffprobe's `format_name` (aliases joined by commas: `mov,mp4,m4a,3gp,3g2,mj2`) names
/// an allowed demuxer.
pub fn is_allowed_demuxer(format_name: &str) -> bool {
    format_name.split(',').any(|name| INPUT_DEMUXERS.split(',').any(|allowed| allowed == name.trim()))
}

/// `INPUT_PINS` followed by `-i path`, as owned arguments.
pub fn pinned_input(path: &std::path::Path) -> Vec<String> {
    let mut args: Vec<String> = INPUT_PINS.map(String::from).to_vec();
    args.extend(["-i".to_owned(), path.display().to_string()]);
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_pass_and_text_and_playlists_do_not() {
        for name in ["mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm", "mpegts", "yuv4mpegpipe", "h264"] {
            assert!(is_allowed_demuxer(name), "{name}");
        }
        for name in ["tty", "hls", "applehttp", "concat", "image2", "lavfi", "srt", "dash", "", "movx"] {
            assert!(!is_allowed_demuxer(name), "{name}");
        }
        assert_eq!(pinned_input(std::path::Path::new("/a b.mp4"))[4..], ["-i".to_owned(), "/a b.mp4".to_owned()]);
    }
}
