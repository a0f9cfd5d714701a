//! Login Response status (RFC 7143 11.13.5): class and detail.

/// A Login Response Status-Class/Status-Detail pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LoginStatus {
    pub class: u8,
    pub detail: u8,
}

impl LoginStatus {
    const fn new(class: u8, detail: u8) -> Self {
        Self { class, detail }
    }

    /// 0x0000: login is proceeding OK.
    pub const SUCCESS: Self = Self::new(0, 0);
    /// 0x0101: target moved temporarily (redirection; unused today).
    pub const TARGET_MOVED_TEMPORARILY: Self = Self::new(1, 1);
    /// 0x0200: miscellaneous initiator error.
    pub const INITIATOR_ERROR: Self = Self::new(2, 0);
    /// 0x0201: the initiator could not be authenticated.
    pub const AUTHENTICATION_FAILURE: Self = Self::new(2, 1);
    /// 0x0202: the initiator may not access this target.
    pub const AUTHORIZATION_FAILURE: Self = Self::new(2, 2);
    /// 0x0203: the requested TargetName does not exist.
    pub const NOT_FOUND: Self = Self::new(2, 3);
    /// 0x0204: the target was removed.
    pub const TARGET_REMOVED: Self = Self::new(2, 4);
    /// 0x0205: no version in [Version-min, Version-max] is supported.
    pub const UNSUPPORTED_VERSION: Self = Self::new(2, 5);
    /// 0x0206: too many connections on this session.
    pub const TOO_MANY_CONNECTIONS: Self = Self::new(2, 6);
    /// 0x0207: a required key (InitiatorName, TargetName) is missing.
    pub const MISSING_PARAMETER: Self = Self::new(2, 7);
    /// 0x0208: can't include the connection in the session.
    pub const CANT_INCLUDE_IN_SESSION: Self = Self::new(2, 8);
    /// 0x0209: SessionType not supported.
    pub const SESSION_TYPE_NOT_SUPPORTED: Self = Self::new(2, 9);
    /// 0x020a: TSIH names a session that does not exist.
    pub const SESSION_DOES_NOT_EXIST: Self = Self::new(2, 0x0a);
    /// 0x020b: a request not allowed during login.
    pub const INVALID_DURING_LOGIN: Self = Self::new(2, 0x0b);
    /// 0x0300: target hardware or software error.
    pub const TARGET_ERROR: Self = Self::new(3, 0);
    /// 0x0301: service unavailable.
    pub const SERVICE_UNAVAILABLE: Self = Self::new(3, 1);
    /// 0x0302: out of resources.
    pub const OUT_OF_RESOURCES: Self = Self::new(3, 2);

    /// The 16-bit value as carried in bytes 36-37 of the Login Response.
    pub const fn code(self) -> u16 {
        ((self.class as u16) << 8) | self.detail as u16
    }

    pub const fn is_success(self) -> bool {
        self.class == 0
    }

    /// A label for metrics (`xtgt_logins_total{result}`) and logs.
    pub const fn name(self) -> &'static str {
        match self.code() {
            0x0000 => "success",
            0x0101 => "target_moved_temporarily",
            0x0200 => "initiator_error",
            0x0201 => "authentication_failure",
            0x0202 => "authorization_failure",
            0x0203 => "not_found",
            0x0204 => "target_removed",
            0x0205 => "unsupported_version",
            0x0206 => "too_many_connections",
            0x0207 => "missing_parameter",
            0x0208 => "cant_include_in_session",
            0x0209 => "session_type_not_supported",
            0x020a => "session_does_not_exist",
            0x020b => "invalid_during_login",
            0x0300 => "target_error",
            0x0301 => "service_unavailable",
            0x0302 => "out_of_resources",
            _ => "other",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        assert_eq!(LoginStatus::AUTHENTICATION_FAILURE.code(), 0x0201);
        assert_eq!(LoginStatus::SESSION_DOES_NOT_EXIST.code(), 0x020a);
        assert_eq!(LoginStatus::TARGET_ERROR.code(), 0x0300);
        assert_eq!(LoginStatus::NOT_FOUND.name(), "not_found");
        assert!(LoginStatus::SUCCESS.is_success());
    }
}
