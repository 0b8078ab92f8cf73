//! Temporary: until mailhost-decode lands.
use super::{Opened, Read2, Walker};
pub(crate) fn compress(_: &mut Walker, _: &[u8]) -> Read2 {
    Ok(Opened::No)
}
pub(crate) fn arj(_: &mut Walker, _: &[u8]) -> Read2 {
    Ok(Opened::No)
}
pub(crate) fn tnef(_: &mut Walker, _: &[u8]) -> Read2 {
    Ok(Opened::No)
}
pub(crate) fn rtf(_: &mut Walker, _: &[u8]) -> Read2 {
    Ok(Opened::No)
}
pub(crate) fn has_text_encoding(_: &[u8]) -> bool {
    false
}
pub(crate) fn text(_: &mut Walker, _: &[u8]) -> Read2 {
    Ok(Opened::No)
}
