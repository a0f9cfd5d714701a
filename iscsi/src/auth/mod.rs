//! Authentication methods of the security negotiation stage
//! (RFC 7143 12.1). Only CHAP (RFC 1994, RFC 7143 12.1.3) is implemented.

pub mod chap;
