//! Login Response status (RFC 7143 11.13.5): class and detail.

/// A Login Response Status-Class/Status-Detail pair. The default is
/// [`LoginStatus::SUCCESS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
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

    /// A label for metrics (`xtgt_logins_total{result}`) and logs: the
    /// constant's name in lower case.
    pub const fn name(self) -> &'static str {
        match self {
            Self::SUCCESS => "success",
            Self::TARGET_MOVED_TEMPORARILY => "target_moved_temporarily",
            Self::INITIATOR_ERROR => "initiator_error",
            Self::AUTHENTICATION_FAILURE => "authentication_failure",
            Self::AUTHORIZATION_FAILURE => "authorization_failure",
            Self::NOT_FOUND => "not_found",
            Self::TARGET_REMOVED => "target_removed",
            Self::UNSUPPORTED_VERSION => "unsupported_version",
            Self::TOO_MANY_CONNECTIONS => "too_many_connections",
            Self::MISSING_PARAMETER => "missing_parameter",
            Self::CANT_INCLUDE_IN_SESSION => "cant_include_in_session",
            Self::SESSION_TYPE_NOT_SUPPORTED => "session_type_not_supported",
            Self::SESSION_DOES_NOT_EXIST => "session_does_not_exist",
            Self::INVALID_DURING_LOGIN => "invalid_during_login",
            Self::TARGET_ERROR => "target_error",
            Self::SERVICE_UNAVAILABLE => "service_unavailable",
            Self::OUT_OF_RESOURCES => "out_of_resources",
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

    /// Every constant has its own label, and it is the constant's name.
    #[test]
    fn names_follow_the_constants() {
        for (status, name) in [
            (LoginStatus::SUCCESS, "SUCCESS"),
            (
                LoginStatus::TARGET_MOVED_TEMPORARILY,
                "TARGET_MOVED_TEMPORARILY",
            ),
            (LoginStatus::INITIATOR_ERROR, "INITIATOR_ERROR"),
            (
                LoginStatus::AUTHENTICATION_FAILURE,
                "AUTHENTICATION_FAILURE",
            ),
            (LoginStatus::AUTHORIZATION_FAILURE, "AUTHORIZATION_FAILURE"),
            (LoginStatus::NOT_FOUND, "NOT_FOUND"),
            (LoginStatus::TARGET_REMOVED, "TARGET_REMOVED"),
            (LoginStatus::UNSUPPORTED_VERSION, "UNSUPPORTED_VERSION"),
            (LoginStatus::TOO_MANY_CONNECTIONS, "TOO_MANY_CONNECTIONS"),
            (LoginStatus::MISSING_PARAMETER, "MISSING_PARAMETER"),
            (
                LoginStatus::CANT_INCLUDE_IN_SESSION,
                "CANT_INCLUDE_IN_SESSION",
            ),
            (
                LoginStatus::SESSION_TYPE_NOT_SUPPORTED,
                "SESSION_TYPE_NOT_SUPPORTED",
            ),
            (
                LoginStatus::SESSION_DOES_NOT_EXIST,
                "SESSION_DOES_NOT_EXIST",
            ),
            (LoginStatus::INVALID_DURING_LOGIN, "INVALID_DURING_LOGIN"),
            (LoginStatus::TARGET_ERROR, "TARGET_ERROR"),
            (LoginStatus::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE"),
            (LoginStatus::OUT_OF_RESOURCES, "OUT_OF_RESOURCES"),
        ] {
            assert_eq!(status.name(), name.to_lowercase());
        }
        assert_eq!(
            LoginStatus {
                class: 2,
                detail: 0x7f
            }
            .name(),
            "other"
        );
    }
}
