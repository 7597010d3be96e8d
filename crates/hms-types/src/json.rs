//! JSON written straight into a buffer, byte for byte as `serde_json` writes the wire
//! types: the lists write their items from the rows they read, without building each
//! item's wire type (a hundred rooms, a dozen strings each) only to serialise it.

use serde::Serialize;

/// `text` as a JSON string. The API's strings rarely need escaping and are then copied
/// whole; the others are escaped by `serde_json` itself, so both writers agree.
pub fn write_str(out: &mut Vec<u8>, text: &str) {
    if text.bytes().any(escaped) {
        write_value(out, text);
    } else {
        out.reserve(text.len() + 2);
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    }
}

pub fn write_bool(out: &mut Vec<u8>, value: bool) {
    out.extend_from_slice(if value { b"true" } else { b"false" });
}

/// Any value, by `serde_json`: for the parts of an item that are rare or small.
pub fn write_value(out: &mut Vec<u8>, value: &(impl Serialize + ?Sized)) {
    serde_json::to_writer(out, value).expect("the wire types serialise, and a Vec takes every write");
}

/// Whether `serde_json` escapes this byte in a string: quotes, backslashes and control
/// characters (it writes every other character as it is).
fn escaped(byte: u8) -> bool {
    byte < 0x20 || byte == b'"' || byte == b'\\'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_match_serde_json() {
        for text in [
            "",
            "plain-room_1:2.3",
            "quote \" and backslash \\",
            "tab\tnewline\ncontrol\u{1}\u{1f}",
            "delete \u{7f}, é, 漢字, 🙂, </script>",
        ] {
            let mut out = Vec::new();
            write_str(&mut out, text);
            assert_eq!(out, serde_json::to_vec(text).unwrap(), "{text:?}");
        }
    }
}
