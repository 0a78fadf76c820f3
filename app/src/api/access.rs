//! What each role may do, as the pages offer it: every control that calls a route a
//! viewer cannot use is one [`Capability`], with the least role the server asks for and the
//! routes behind it. The server's role table test checks these against its own table, so
//! the page and the server cannot disagree on who may do what.

use super::Role;

wire_enum! {
    /// Something a page offers that not every role may do.
    pub enum Capability {
        BackUp = "back_up",
        Download = "download",
        Pin = "pin",
        TestRestore = "test_restore",
        DeleteBackup = "delete_backup",
        CancelJob = "cancel_job",
        Restore = "restore",
        RollBack = "roll_back",
        FinalBackup = "final_backup",
        DropKept = "drop_kept",
        Settings = "settings",
        People = "people",
    }
}

impl Capability {
    /// The least role that may do it (the server's, route by route).
    pub fn least(self) -> Role {
        use Capability::*;
        match self {
            BackUp | Download | Pin | TestRestore | CancelJob | Restore | RollBack
            | FinalBackup => Role::Operator,
            DeleteBackup | DropKept | Settings | People => Role::Admin,
        }
    }

    /// The `/api/v1` routes (method, path as the router declares it) it calls.
    pub fn routes(self) -> &'static [(&'static str, &'static str)] {
        use Capability::*;
        match self {
            BackUp => &[("POST", "/backups")],
            Download => &[
                ("GET", "/backups/{id}/download"),
                ("GET", "/backups/{id}/metadata"),
            ],
            Pin => &[("POST", "/backups/{id}/pin")],
            TestRestore => &[("POST", "/backups/{id}/test-restore")],
            DeleteBackup => &[("DELETE", "/backups/{id}")],
            CancelJob => &[("DELETE", "/jobs/{id}")],
            Restore => &[
                ("POST", "/uploads"),
                ("GET", "/restores/plan"),
                ("POST", "/restores"),
            ],
            RollBack => &[("POST", "/restores/{id}/rollback")],
            FinalBackup => &[("POST", "/restores/kept-databases/{name}/final-backup")],
            DropKept => &[("DELETE", "/restores/kept-databases/{name}")],
            Settings => &[
                ("GET", "/settings"),
                ("PUT", "/schedule"),
                ("GET", "/retention/plan"),
                ("POST", "/alerts/test"),
            ],
            People => &[
                ("GET", "/users"),
                ("POST", "/users"),
                ("PATCH", "/users/{id}"),
                ("DELETE", "/users/{id}"),
                ("DELETE", "/users/{id}/sessions"),
                ("POST", "/users/{id}/reset-password"),
                ("DELETE", "/users/{id}/totp"),
            ],
        }
    }

    /// What it is called in a sentence, and whether that takes "need" or "needs".
    fn subject(self) -> (&'static str, bool) {
        use Capability::*;
        match self {
            BackUp => ("Backing up", false),
            Download => ("Downloading", false),
            Pin => ("Pinning a backup", false),
            TestRestore => ("A test restore", false),
            DeleteBackup => ("Deleting a backup", false),
            CancelJob => ("Cancelling a job", false),
            Restore => ("Restoring", false),
            RollBack => ("Rolling back", false),
            FinalBackup => ("Taking a final backup", false),
            DropKept => ("Dropping a kept database", false),
            Settings => ("Settings", true),
            People => ("Managing people", false),
        }
    }

    /// Why `role` may not do it ("Downloading needs the Operator role; you are a
    /// viewer."), or `None` when it may.
    pub fn refusal(self, role: Role) -> Option<String> {
        if role.includes(self.least()) {
            return None;
        }
        let (subject, plural) = self.subject();
        let you = match role {
            Role::Viewer => "a viewer",
            Role::Operator => "an operator",
            Role::Admin => "an administrator",
        };
        Some(format!(
            "{subject} {} the {} role; you are {you}.",
            if plural { "need" } else { "needs" },
            self.least().label()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V: Role = Role::Viewer;
    const O: Role = Role::Operator;
    const A: Role = Role::Admin;

    /// Each capability × each role: allowed (`None`) or the reason, word for word.
    #[test]
    fn each_role_gets_each_capability_or_the_reason_why_not() {
        let table: &[(Capability, [Option<&str>; 3])] = &[
            (
                Capability::BackUp,
                [
                    Some("Backing up needs the Operator role; you are a viewer."),
                    None,
                    None,
                ],
            ),
            (
                Capability::Download,
                [
                    Some("Downloading needs the Operator role; you are a viewer."),
                    None,
                    None,
                ],
            ),
            (
                Capability::Pin,
                [
                    Some("Pinning a backup needs the Operator role; you are a viewer."),
                    None,
                    None,
                ],
            ),
            (
                Capability::TestRestore,
                [
                    Some("A test restore needs the Operator role; you are a viewer."),
                    None,
                    None,
                ],
            ),
            (
                Capability::DeleteBackup,
                [
                    Some("Deleting a backup needs the Administrator role; you are a viewer."),
                    Some("Deleting a backup needs the Administrator role; you are an operator."),
                    None,
                ],
            ),
            (
                Capability::CancelJob,
                [
                    Some("Cancelling a job needs the Operator role; you are a viewer."),
                    None,
                    None,
                ],
            ),
            (
                Capability::Restore,
                [
                    Some("Restoring needs the Operator role; you are a viewer."),
                    None,
                    None,
                ],
            ),
            (
                Capability::RollBack,
                [
                    Some("Rolling back needs the Operator role; you are a viewer."),
                    None,
                    None,
                ],
            ),
            (
                Capability::FinalBackup,
                [
                    Some("Taking a final backup needs the Operator role; you are a viewer."),
                    None,
                    None,
                ],
            ),
            (
                Capability::DropKept,
                [
                    Some(
                        "Dropping a kept database needs the Administrator role; you are a viewer.",
                    ),
                    Some(
                        "Dropping a kept database needs the Administrator role; you are an operator.",
                    ),
                    None,
                ],
            ),
            (
                Capability::Settings,
                [
                    Some("Settings need the Administrator role; you are a viewer."),
                    Some("Settings need the Administrator role; you are an operator."),
                    None,
                ],
            ),
            (
                Capability::People,
                [
                    Some("Managing people needs the Administrator role; you are a viewer."),
                    Some("Managing people needs the Administrator role; you are an operator."),
                    None,
                ],
            ),
        ];
        assert_eq!(
            table.len(),
            Capability::ALL.len(),
            "every capability is listed"
        );
        for (cap, expected) in table {
            for (role, want) in [V, O, A].into_iter().zip(expected) {
                assert_eq!(cap.refusal(role).as_deref(), *want, "{cap} as {role}");
            }
        }
    }

    #[test]
    fn an_administrator_may_do_everything_and_a_viewer_nothing_here() {
        for cap in Capability::ALL {
            assert_eq!(cap.refusal(A), None, "{cap}");
            assert!(cap.refusal(V).is_some(), "{cap}");
            assert!(!cap.routes().is_empty(), "{cap} calls no route");
        }
    }

    #[test]
    fn no_route_belongs_to_two_capabilities() {
        let mut seen = std::collections::BTreeSet::new();
        for cap in Capability::ALL {
            for route in cap.routes() {
                assert!(seen.insert(*route), "{route:?} is listed twice");
            }
        }
    }
}
