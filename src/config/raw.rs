//! The configuration as serde reads it: every key optional, so that a
//! missing key is reported by validation with its key path.

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use std::fmt;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub server: Option<RawServer>,
    pub log: Option<String>,
    pub targets: Option<Vec<RawTarget>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawServer {
    pub listen: Option<OneOrMany>,
    pub metrics_listen: Option<String>,
    pub portal_group_tag: Option<u16>,
    pub nop_interval_secs: Option<u64>,
    pub nop_timeout_secs: Option<u64>,
    pub queue_depth: Option<u32>,
    pub max_recv_data_segment_length: Option<u32>,
}

/// `listen = "a:p"` or `listen = ["a:p", ...]`.
#[derive(Debug)]
pub(super) enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OneOrMany;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an address such as \"127.0.0.1:3260\" or a list of them")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<OneOrMany, E> {
                Ok(OneOrMany::One(v.to_string()))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<OneOrMany, A::Error> {
                let mut v = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    v.push(s);
                }
                Ok(OneOrMany::Many(v))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTarget {
    pub iqn: Option<String>,
    pub alias: Option<String>,
    pub allowed_initiators: Option<Vec<String>>,
    pub chap: Option<RawChap>,
    pub mutual_chap: Option<RawChap>,
    pub luns: Option<Vec<RawLun>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawChap {
    pub user: Option<String>,
    pub secret: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLun {
    pub lun: Option<u64>,
    pub backend: Option<String>,
    pub path: Option<String>,
    pub size: Option<SizeValue>,
    pub block_size: Option<u32>,
    pub read_only: Option<bool>,
    pub physical_block_size: Option<u32>,
    pub removable: Option<bool>,
}

/// `size = 1048576` or `size = "1GiB"`.
#[derive(Debug)]
pub(super) enum SizeValue {
    Bytes(u64),
    Text(String),
}

impl<'de> Deserialize<'de> for SizeValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = SizeValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a size in bytes or a string such as \"1GiB\"")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<SizeValue, E> {
                Ok(SizeValue::Bytes(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<SizeValue, E> {
                u64::try_from(v).map(SizeValue::Bytes).map_err(|_| {
                    E::custom(format!("{v} is negative; expected a size such as \"1GiB\""))
                })
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<SizeValue, E> {
                Ok(SizeValue::Text(v.to_string()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<SizeValue, E> {
                Ok(SizeValue::Text(v))
            }
        }
        d.deserialize_any(V)
    }
}
