//! Who may use a target port: the allowed initiators and the CHAP
//! credentials (RFC 7143 12.1.3). I/O-free. The rule is written here once
//! and applied alike by the iSCSI login, SendTargets discovery and the copy
//! manager's CSCD resolution (`copy::AclResolver`).

/// A CHAP user name and secret (RFC 7143 12.1.3). Two targets requiring
/// the same credential accept the same proof. `Debug` leaves the secret
/// out.
#[derive(Clone, PartialEq, Eq)]
pub struct ChapCredential {
    pub user: String,
    pub secret: String,
}

impl std::fmt::Debug for ChapCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChapCredential")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// The access policy of one target port.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessPolicy {
    /// Initiator names allowed to log in and to see the target in
    /// SendTargets; empty means every initiator.
    pub allowed_initiators: Vec<String>,
    /// One-way CHAP: the initiator must authenticate with this credential.
    pub chap: Option<ChapCredential>,
    /// Mutual CHAP: the target authenticates to the initiator with this.
    pub mutual_chap: Option<ChapCredential>,
}

impl AccessPolicy {
    /// The ACL alone: whether `initiator_name` is among the allowed
    /// initiators (an empty list allows everyone). Decides SendTargets
    /// visibility and is checked at the first Login Request, before
    /// authentication.
    pub fn admits(&self, initiator_name: &str) -> bool {
        self.allowed_initiators.is_empty()
            || self.allowed_initiators.iter().any(|a| a == initiator_name)
    }

    /// Whether an initiator must authenticate with CHAP.
    pub fn requires_chap(&self) -> bool {
        self.chap.is_some()
    }

    /// The whole rule: the ACL admits `initiator_name`, and when the target
    /// requires CHAP the initiator has authenticated with exactly its
    /// credential (user and secret). `authenticated`: the credential the
    /// initiator proved, `None` if it proved none.
    pub fn permits(&self, initiator_name: &str, authenticated: Option<&ChapCredential>) -> bool {
        self.admits(initiator_name)
            && match &self.chap {
                None => true,
                Some(needed) => authenticated == Some(needed),
            }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cred(user: &str, secret: &str) -> ChapCredential {
        ChapCredential {
            user: user.into(),
            secret: secret.into(),
        }
    }

    #[test]
    fn empty_acl_admits_everyone_a_list_only_its_names() {
        let open = AccessPolicy::default();
        assert!(open.admits("iqn.a"));
        assert!(open.permits("iqn.a", None));
        let acl = AccessPolicy {
            allowed_initiators: vec!["iqn.a".into()],
            ..Default::default()
        };
        assert!(acl.admits("iqn.a"));
        assert!(!acl.admits("iqn.b"));
        assert!(!acl.admits("iqn.a2"));
        assert!(!acl.permits("iqn.b", None));
    }

    #[test]
    fn chap_needs_the_same_user_and_secret() {
        let p = AccessPolicy {
            chap: Some(cred("u", "secret-of-12")),
            ..Default::default()
        };
        assert!(p.requires_chap());
        assert!(!AccessPolicy::default().requires_chap());
        assert!(p.admits("iqn.a"));
        assert!(p.permits("iqn.a", Some(&cred("u", "secret-of-12"))));
        assert!(!p.permits("iqn.a", None));
        assert!(!p.permits("iqn.a", Some(&cred("u", "other-secret"))));
        assert!(!p.permits("iqn.a", Some(&cred("v", "secret-of-12"))));
        let both = AccessPolicy {
            allowed_initiators: vec!["iqn.a".into()],
            ..p
        };
        assert!(!both.permits("iqn.b", Some(&cred("u", "secret-of-12"))));
    }

    #[test]
    fn debug_hides_the_secret() {
        let s = format!("{:?}", cred("u", "hidden-secret"));
        assert!(s.contains("\"u\""));
        assert!(!s.contains("hidden-secret"));
    }
}
