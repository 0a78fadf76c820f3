//! People and what they may do: roles, accounts, invitation links, sessions.

wire_enum! {
    /// What a person may do. Each role includes everything the ones before it may do:
    /// a viewer reads (history, progress, audit), an operator also backs up, downloads,
    /// verifies and restores, an administrator also manages people and settings.
    pub enum Role {
        Viewer = "viewer",
        Operator = "operator",
        Admin = "admin",
    }
}

impl Role {
    fn rank(self) -> u8 {
        match self {
            Role::Viewer => 0,
            Role::Operator => 1,
            Role::Admin => 2,
        }
    }

    /// Whether this role may do what `needed` may.
    pub fn includes(self, needed: Role) -> bool {
        self.rank() >= needed.rank()
    }

    /// How the product names the role to a person.
    pub fn label(self) -> &'static str {
        match self {
            Role::Viewer => "Viewer",
            Role::Operator => "Operator",
            Role::Admin => "Administrator",
        }
    }
}

/// The error code of a refusal because the signed-in person's role is not enough (403).
pub const ROLE_REQUIRED: &str = "role_required";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_role_includes_the_ones_below() {
        assert!(Role::Admin.includes(Role::Operator));
        assert!(Role::Operator.includes(Role::Viewer));
        assert!(Role::Viewer.includes(Role::Viewer));
        assert!(!Role::Viewer.includes(Role::Operator));
        assert!(!Role::Operator.includes(Role::Admin));
        assert_eq!(Role::parse("operator"), Some(Role::Operator));
    }
}
