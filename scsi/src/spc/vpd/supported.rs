//! Supported VPD Pages (SPC-5 7.7.15).

use super::{with_header, PAGES, SUPPORTED_PAGES};

pub fn supported_pages() -> Vec<u8> {
    with_header(SUPPORTED_PAGES, &PAGES)
}
