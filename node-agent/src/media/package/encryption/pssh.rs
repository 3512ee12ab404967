//! Protection system headers (`pssh` boxes and the MPD's `cenc:pssh`): which DRM systems can
//! license the keys, naming the key ids. Written for the W3C common system (what Clear Key
//! players read), Widevine and PlayReady; a DRM service that issues its own headers with the
//! licence URL would replace these.

use super::samples::Scheme;
use crate::media::mp4_boxes::full_boxed;

/// The W3C "common" system id (ISO 23001-7 / W3C EME Clear Key).
pub const COMMON_SYSTEM_ID: [u8; 16] = uuid(0x1077efec_c0b2_4d02_ace3_3c1e52e2fb4b);
pub const WIDEVINE_SYSTEM_ID: [u8; 16] = uuid(0xedef8ba9_79d6_4ace_a3c8_27dcd51d21ed);
pub const PLAYREADY_SYSTEM_ID: [u8; 16] = uuid(0x9a04f079_9840_4286_ab92_e65be0885f95);

const fn uuid(value: u128) -> [u8; 16] {
    value.to_be_bytes()
}

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, as the MPD writes ids.
pub fn uuid_text(bytes: &[u8; 16]) -> String {
    let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

/// One system's `pssh` box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemHeader {
    pub system_id: [u8; 16],
    /// The whole box.
    pub pssh: Vec<u8>,
}

/// The headers for `kids` under `scheme`: common, Widevine, PlayReady.
pub fn system_headers(scheme: Scheme, kids: &[[u8; 16]]) -> Vec<SystemHeader> {
    vec![
        SystemHeader { system_id: COMMON_SYSTEM_ID, pssh: pssh_box(COMMON_SYSTEM_ID, kids, &[]) },
        SystemHeader { system_id: WIDEVINE_SYSTEM_ID, pssh: pssh_box(WIDEVINE_SYSTEM_ID, kids, &widevine_data(scheme, kids)) },
        SystemHeader { system_id: PLAYREADY_SYSTEM_ID, pssh: pssh_box(PLAYREADY_SYSTEM_ID, kids, &playready_object(scheme, kids)) },
    ]
}

/// A version-1 `pssh` (with its key ids, which every system can read without its data).
fn pssh_box(system_id: [u8; 16], kids: &[[u8; 16]], data: &[u8]) -> Vec<u8> {
    let mut body = system_id.to_vec();
    body.extend_from_slice(&(kids.len() as u32).to_be_bytes());
    for kid in kids {
        body.extend_from_slice(kid);
    }
    body.extend_from_slice(&(data.len() as u32).to_be_bytes());
    body.extend_from_slice(data);
    full_boxed(b"pssh", 1, 0, &body)
}

/// WidevinePsshData (protobuf): `key_ids` (field 2, bytes) for each key, and
/// `protection_scheme` (field 9, the scheme's four characters as a number).
fn widevine_data(scheme: Scheme, kids: &[[u8; 16]]) -> Vec<u8> {
    let mut data = Vec::new();
    for kid in kids {
        data.extend_from_slice(&[0x12, 16]);
        data.extend_from_slice(kid);
    }
    data.push(0x48);
    let mut value = u32::from_be_bytes(scheme.fourcc());
    while value >= 0x80 {
        data.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    data.push(value as u8);
    data
}

/// A PlayReady Object holding one rights-management header (WRMHEADER 4.3, which names
/// AES-CBC keys too), UTF-16LE; key ids as PlayReady writes GUIDs (first three fields
/// little-endian), base64.
fn playready_object(scheme: Scheme, kids: &[[u8; 16]]) -> Vec<u8> {
    let algorithm = match scheme {
        Scheme::Cenc => "AESCTR",
        Scheme::Cbcs => "AESCBC",
    };
    let kid_elements: String = kids.iter().map(|kid| format!("<KID ALGID=\"{algorithm}\" VALUE=\"{}\"></KID>", base64(&guid_bytes(kid)))).collect();
    let xml = format!(
        "<WRMHEADER xmlns=\"http://schemas.microsoft.com/DRM/2007/03/PlayReadyHeader\" version=\"4.3.0.0\"><DATA><PROTECTINFO><KIDS>{kid_elements}</KIDS></PROTECTINFO></DATA></WRMHEADER>"
    );
    let record: Vec<u8> = xml.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let total = 4 + 2 + 2 + 2 + record.len();
    let mut object = (total as u32).to_le_bytes().to_vec();
    object.extend_from_slice(&1u16.to_le_bytes());
    object.extend_from_slice(&1u16.to_le_bytes());
    object.extend_from_slice(&(record.len() as u16).to_le_bytes());
    object.extend_from_slice(&record);
    object
}

/// A key id in PlayReady's GUID byte order.
fn guid_bytes(kid: &[u8; 16]) -> [u8; 16] {
    let mut out = *kid;
    out[..4].reverse();
    out[4..6].reverse();
    out[6..8].reverse();
    out
}

/// Standard base64 with padding (RFC 4648), as manifests carry headers.
pub fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_name_every_key_for_each_system() {
        let kids = [[0x11; 16], [0x22; 16]];
        let headers = system_headers(Scheme::Cbcs, &kids);
        assert_eq!(headers.iter().map(|header| uuid_text(&header.system_id)).collect::<Vec<_>>(), [
            "1077efec-c0b2-4d02-ace3-3c1e52e2fb4b",
            "edef8ba9-79d6-4ace-a3c8-27dcd51d21ed",
            "9a04f079-9840-4286-ab92-e65be0885f95"
        ]);
        for header in &headers {
            let pssh = &header.pssh;
            assert_eq!(u32::from_be_bytes(pssh[..4].try_into().unwrap()) as usize, pssh.len());
            assert_eq!((&pssh[4..8], pssh[8]), (&b"pssh"[..], 1));
            assert_eq!(&pssh[12..28], &header.system_id);
            assert_eq!(u32::from_be_bytes(pssh[28..32].try_into().unwrap()), 2);
            assert_eq!((&pssh[32..48], &pssh[48..64]), (&kids[0][..], &kids[1][..]));
            let data_len = u32::from_be_bytes(pssh[64..68].try_into().unwrap()) as usize;
            assert_eq!(68 + data_len, pssh.len());
        }
        // Widevine: two key ids, then protection_scheme 'cbcs' as a varint.
        assert!(headers[1].pssh.ends_with(&[0x48, 0xf3, 0xc6, 0x89, 0x9b, 0x06]));
        // PlayReady: the object's length leads it, little-endian.
        let object = &headers[2].pssh[68..];
        assert_eq!(u32::from_le_bytes(object[..4].try_into().unwrap()) as usize, object.len());
    }
}
