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
    /// AES-CTR, whole blocks of each slice: DASH with Widevine and PlayReady.
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncryptionOptions {
    pub scheme: Scheme,
    /// The key file (see the agent's `encryption::keys`), checked against the input roots.
    pub key_url: String,
}

impl EncryptionOptions {
    /// Unset or empty: no encryption. Else both a scheme and a key URL (its place is checked
    /// by the caller, against the roots).
    pub fn from_wire(wire: Option<&v1::Encryption>) -> Result<Option<EncryptionOptions>, String> {
        let Some(wire) = wire.filter(|wire| !wire.scheme.is_empty() || !wire.key_url.is_empty()) else { return Ok(None) };
        let scheme = Scheme::parse(&wire.scheme).ok_or_else(|| format!("scheme {:?} is not an encryption scheme; use cbcs (HLS SAMPLE-AES, FairPlay, Widevine, PlayReady) or cenc (DASH)", wire.scheme))?;
        if wire.key_url.is_empty() {
            return Err("key_url is empty: name the key file (JSON with the key ids and keys) under the farm's input roots".to_owned());
        }
        Ok(Some(EncryptionOptions { scheme, key_url: wire.key_url.clone() }))
    }

    pub fn to_wire(options: Option<&EncryptionOptions>) -> Option<v1::Encryption> {
        options.map(|options| v1::Encryption { scheme: options.scheme.as_str().to_owned(), key_url: options.key_url.clone() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scheme_and_a_key_url_or_nothing() {
        assert_eq!(EncryptionOptions::from_wire(None), Ok(None));
        assert_eq!(EncryptionOptions::from_wire(Some(&v1::Encryption::default())), Ok(None));
        let wire = v1::Encryption { scheme: "cbcs".into(), key_url: "file:///keys/a.json".into() };
        let options = EncryptionOptions::from_wire(Some(&wire)).expect("valid").expect("some");
        assert_eq!(EncryptionOptions::to_wire(Some(&options)), Some(wire));
        let error = EncryptionOptions::from_wire(Some(&v1::Encryption { scheme: "aes128".into(), key_url: "file:///k".into() })).unwrap_err();
        assert!(error.contains("use cbcs"), "{error}");
        let error = EncryptionOptions::from_wire(Some(&v1::Encryption { scheme: "cenc".into(), key_url: String::new() })).unwrap_err();
        assert!(error.contains("key_url is empty"), "{error}");
    }
}
