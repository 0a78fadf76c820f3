//! PostgreSQL custom-format archives (`pg_dump -Fc`): reading the header from the first
//! bytes, so a file can be recognised (or refused) before anything else is done with it.

/// What the first bytes say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub major: u8,
    pub minor: u8,
    pub rev: u8,
    /// 1 = custom, 3 = tar, 5 = directory (pg_backup_archiver.h).
    pub format: u8,
}

impl Header {
    /// `1.14`, or `1.14.0` style without the revision when it is 0.
    pub fn version(&self) -> String {
        if self.rev == 0 {
            format!("{}.{}", self.major, self.minor)
        } else {
            format!("{}.{}.{}", self.major, self.minor, self.rev)
        }
    }
    pub fn is_custom(&self) -> bool {
        self.format == 1
    }
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("the file is too short to be a PostgreSQL archive")]
    TooShort,
    #[error("not a PostgreSQL custom-format archive (it does not start with PGDMP)")]
    NotAnArchive,
}

/// Parses `PGDMP` + major, minor, revision, int size, offset size, format.
pub fn parse_header(bytes: &[u8]) -> Result<Header, HeaderError> {
    if bytes.len() < 5 {
        return Err(HeaderError::TooShort);
    }
    if &bytes[..5] != b"PGDMP" {
        return Err(HeaderError::NotAnArchive);
    }
    if bytes.len() < 11 {
        return Err(HeaderError::TooShort);
    }
    Ok(Header {
        major: bytes[5],
        minor: bytes[6],
        rev: bytes[7],
        format: bytes[10],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_parse() {
        let h = parse_header(b"PGDMP\x01\x0e\x00\x04\x08\x01rest").expect("header");
        assert_eq!(h.version(), "1.14");
        assert!(h.is_custom());
        assert_eq!(parse_header(b"PGD"), Err(HeaderError::TooShort));
        assert_eq!(
            parse_header(b"-- PostgreSQL database dump"),
            Err(HeaderError::NotAnArchive)
        );
    }
}
