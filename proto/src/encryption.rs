//! A job's content encryption: the Common Encryption scheme and where its keys are. The job
//! names a key file by URL (under the farm's input roots), never the keys: keys stay out of
//! the replicated state, task specs, logs and reports; the package task reads them from the
//! file into memory. [`EncryptionOptions::from_wire`] is the one check of what a client sends.

use serde::{Deserialize, Serialize};

use crate::v1;

/// The Common Encryption scheme (ISO/IEC 23001-7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// AES-CTR, whole blocks of each slice or AV1 tile: DASH with Widevine and PlayReady.
    Cenc,
    /// AES-CBC 1:9 pattern, constant IV: HLS SAMPLE-AES (FairPlay), and Widevine and PlayReady.
    Cbcs,
}

impl Scheme {
    pub fn fourcc(self) -> [u8; 4] {
        match self {
            Scheme::Cenc => *b"cenc",
            Scheme::Cbcs => *b"cbcs",
        }
    }

    pub fn parse(text: &str) -> Option<Scheme> {
        match text {
            "cenc" => Some(Scheme::Cenc),
            "cbcs" => Some(Scheme::Cbcs),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Cenc => "cenc",
            Scheme::Cbcs => "cbcs",
        }
    }
}

/// What encryption a job asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncryptionOptions {
    pub scheme: Scheme,
    /// The key file (see the agent's `encryption::keys`), checked against the input roots.
    pub key_url: String,
    /// Each segment that starts within this many seconds stays clear (0: none).
    pub clear_lead_seconds: f64,
}

/// The longest clear lead a job may ask for.
pub const MAX_CLEAR_LEAD_SECONDS: f64 = 300.0;

impl EncryptionOptions {
    /// Unset or empty: no encryption. Else both a scheme and a key URL (its place is checked
    /// by the caller, against the roots).
    pub fn from_wire(wire: Option<&v1::Encryption>) -> Result<Option<EncryptionOptions>, String> {
        let Some(wire) = wire.filter(|wire| !wire.scheme.is_empty() || !wire.key_url.is_empty()) else { return Ok(None) };
        let scheme = Scheme::parse(&wire.scheme).ok_or_else(|| format!("scheme {:?} is not an encryption scheme; use cbcs (HLS SAMPLE-AES, FairPlay, Widevine, PlayReady) or cenc (DASH)", wire.scheme))?;
        if wire.key_url.is_empty() {
            return Err("key_url is empty: name the key file (JSON with the key ids and keys) under the farm's input roots".to_owned());
        }
        let clear_lead_seconds = wire.clear_lead_seconds;
        if !(0.0..=MAX_CLEAR_LEAD_SECONDS).contains(&clear_lead_seconds) {
            return Err(format!("clear_lead_seconds is {clear_lead_seconds}; give 0 (every segment encrypted) to {MAX_CLEAR_LEAD_SECONDS} seconds"));
        }
        Ok(Some(EncryptionOptions { scheme, key_url: wire.key_url.clone(), clear_lead_seconds }))
    }

    pub fn to_wire(options: Option<&EncryptionOptions>) -> Option<v1::Encryption> {
        options.map(|options| v1::Encryption { scheme: options.scheme.as_str().to_owned(), key_url: options.key_url.clone(), clear_lead_seconds: options.clear_lead_seconds })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scheme_and_a_key_url_or_nothing() {
        assert_eq!(EncryptionOptions::from_wire(None), Ok(None));
        assert_eq!(EncryptionOptions::from_wire(Some(&v1::Encryption::default())), Ok(None));
        let wire = v1::Encryption { scheme: "cbcs".into(), key_url: "file:///keys/a.json".into(), clear_lead_seconds: 6.0 };
        let options = EncryptionOptions::from_wire(Some(&wire)).expect("valid").expect("some");
        assert_eq!(EncryptionOptions::to_wire(Some(&options)), Some(wire));
        let error = EncryptionOptions::from_wire(Some(&v1::Encryption { scheme: "aes128".into(), key_url: "file:///k".into(), ..Default::default() })).unwrap_err();
        assert!(error.contains("use cbcs"), "{error}");
        let error = EncryptionOptions::from_wire(Some(&v1::Encryption { scheme: "cenc".into(), key_url: String::new(), ..Default::default() })).unwrap_err();
        assert!(error.contains("key_url is empty"), "{error}");
        for lead in [-1.0, 301.0, f64::NAN, f64::INFINITY] {
            let error = EncryptionOptions::from_wire(Some(&v1::Encryption { scheme: "cenc".into(), key_url: "file:///k".into(), clear_lead_seconds: lead })).unwrap_err();
            assert!(error.contains("clear_lead_seconds") && error.contains("300"), "{error}");
        }
    }
}
