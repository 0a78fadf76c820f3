//! Two-factor sign-in: TOTP codes (RFC 6238: HMAC-SHA-1, 6 digits, 30-second steps) and
//! the ten single-use recovery codes given at enrolment. Enrolment, the check of a code at
//! sign-in (each code works once) and turning it off, each audited; the SQL is in
//! `store::second_factor`.

use crate::store::audit::{self, Entry, Origin};
use crate::store::second_factor as rows;
use app::api::{audit_action, outcome};
use chrono::Utc;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::SqlitePool;

/// Seconds per time step.
pub const STEP_SECONDS: i64 = 30;
/// Digits of a code.
pub const DIGITS: u32 = 6;
/// Recovery codes given at enrolment.
pub const RECOVERY_CODES: usize = 10;
/// The name authenticator apps show above the account.
pub const ISSUER: &str = "Lifeboat";

/// The HOTP value (RFC 4226) of `key` at `counter`, with `digits` digits.
fn hotp(key: &[u8], counter: u64, digits: u32) -> u32 {
    // HMAC takes a key of any length: `new_from_slice` cannot fail for it.
    let Ok(mut mac) = Hmac::<sha1::Sha1>::new_from_slice(key) else {
        return u32::MAX;
    };
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = (digest[digest.len() - 1] & 0x0f) as usize;
    let value = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    value % 10u32.pow(digits)
}

/// The time step of a Unix time.
pub fn step_of(unix_seconds: i64) -> i64 {
    unix_seconds.div_euclid(STEP_SECONDS)
}

/// The code of `secret` (base32) at `step`, as the digits an app shows.
pub fn code_at(secret: &str, step: i64) -> Option<String> {
    let key = decode_secret(secret)?;
    Some(format!(
        "{:0width$}",
        hotp(&key, step as u64, DIGITS),
        width = DIGITS as usize
    ))
}

fn decode_secret(secret: &str) -> Option<Vec<u8>> {
    let cleaned: String = secret
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '=')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    data_encoding::BASE32_NOPAD.decode(cleaned.as_bytes()).ok()
}

/// The step at which `code` is `secret`'s code, looking one step either side of `now`
/// (clocks drift, and a person types slowly).
pub fn matching_step(secret: &str, code: &str, unix_seconds: i64) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = step_of(unix_seconds);
    [now - 1, now, now + 1]
        .into_iter()
        .find(|s| code_at(secret, *s).is_some_and(|c| same(&c, &code)))
}

/// Compares without stopping at the first differing byte.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// A new secret: 20 random bytes (160 bits, RFC 4226's recommendation), base32.
pub fn new_secret() -> String {
    let mut key = [0u8; 20];
    rand::thread_rng().fill_bytes(&mut key);
    data_encoding::BASE32_NOPAD.encode(&key)
}

/// The `otpauth://` URI authenticator apps read (from a QR code or typed in).
pub fn otpauth_uri(account: &str, secret: &str) -> String {
    let label = format!("{ISSUER}:{account}");
    format!(
        "otpauth://totp/{}?secret={secret}&issuer={ISSUER}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
        url::form_urlencoded::byte_serialize(label.as_bytes()).collect::<String>()
    )
}

/// Light squares around the code, in modules (the four the QR specification asks for).
pub const QR_QUIET_ZONE: usize = 4;

/// The QR code of an `otpauth://` URI, as an SVG document: one SVG unit per module, dark
/// modules on a white square with its quiet zone (so that it reads on a dark page too);
/// the page scales it. `None` when the URI is too long for a QR code.
pub fn qr_svg(uri: &str) -> Option<String> {
    use qrcode::render::svg;
    let code = qrcode::QrCode::new(uri.as_bytes()).ok()?;
    Some(
        code.render::<svg::Color>()
            .module_dimensions(1, 1)
            .quiet_zone(true)
            .dark_color(svg::Color("#000000"))
            .light_color(svg::Color("#ffffff"))
            .build(),
    )
}

/// Ten recovery codes, `xxxxx-xxxxx` of lowercase base32 (50 random bits each).
pub fn new_recovery_codes() -> Vec<String> {
    let alphabet = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut rng = rand::thread_rng();
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut bytes = [0u8; 10];
            rng.fill_bytes(&mut bytes);
            let chars: String = bytes
                .iter()
                .map(|b| alphabet[(*b & 31) as usize] as char)
                .collect();
            format!("{}-{}", &chars[..5], &chars[5..])
        })
        .collect()
}

/// How a recovery code is stored: SHA-256 hex of its letters and digits, lowercase (so
/// that the dash and the case a person types do not matter).
pub fn recovery_hash(code: &str) -> String {
    let cleaned: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    hex::encode(Sha256::digest(cleaned.as_bytes()))
}

/// Whether `user_id` has two-factor sign-in turned on.
pub async fn enabled(db: &SqlitePool, user_id: i64) -> sqlx::Result<bool> {
    Ok(rows::get(db, user_id)
        .await?
        .is_some_and(|s| s.enabled_at.is_some()))
}

/// A started enrolment: the secret to put into an app.
pub struct Enrolment {
    pub secret: String,
    pub otpauth_uri: String,
    /// [`qr_svg`] of the URI.
    pub qr_svg: Option<String>,
}

/// Starts (or starts again) an enrolment: a new secret, not in force until a code made
/// with it is given ([`confirm`]). Refused (`None`) when two-factor sign-in is already on.
pub async fn enrol(
    db: &SqlitePool,
    user_id: i64,
    username: &str,
) -> sqlx::Result<Option<Enrolment>> {
    if enabled(db, user_id).await? {
        return Ok(None);
    }
    let secret = new_secret();
    rows::put_pending(db, user_id, &secret, Utc::now()).await?;
    let otpauth_uri = otpauth_uri(username, &secret);
    Ok(Some(Enrolment {
        qr_svg: qr_svg(&otpauth_uri),
        otpauth_uri,
        secret,
    }))
}

/// What a code given at sign-in (or to turn two-factor sign-in off) turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub enum Checked {
    /// A TOTP code of the current window, not used before.
    Code,
    /// A recovery code, now spent; this many are left.
    RecoveryCode {
        left: i64,
    },
    /// A TOTP code already used in its window.
    Reused,
    Wrong,
}

/// Checks `code` for `user_id`: a TOTP code (spent: its step is remembered) or, when
/// `recovery` allows, a recovery code (spent too).
pub async fn check(
    db: &SqlitePool,
    user_id: i64,
    code: &str,
    recovery: bool,
) -> sqlx::Result<Checked> {
    let Some(s) = rows::get(db, user_id).await? else {
        return Ok(Checked::Wrong);
    };
    if let Some(step) = matching_step(&s.secret, code, Utc::now().timestamp()) {
        // Atomic: of two requests with the same code, one wins.
        return Ok(if rows::spend_step(db, user_id, step).await? {
            Checked::Code
        } else {
            Checked::Reused
        });
    }
    if recovery
        && code.chars().filter(char::is_ascii_alphanumeric).count() == 10
        && rows::spend_recovery(db, user_id, &recovery_hash(code), Utc::now()).await?
    {
        let left = rows::recovery_left(db, user_id).await?;
        return Ok(Checked::RecoveryCode { left });
    }
    Ok(Checked::Wrong)
}

/// Turns an enrolment on when `code` is a code of its secret; returns the recovery codes
/// (shown once), or `None` when the code is wrong.
pub async fn confirm(
    db: &SqlitePool,
    origin: &Origin,
    user_id: i64,
    username: &str,
    code: &str,
) -> sqlx::Result<Option<Vec<String>>> {
    let Some(s) = rows::get(db, user_id).await? else {
        return Ok(None);
    };
    if s.enabled_at.is_some() {
        return Ok(None);
    }
    let Some(step) = matching_step(&s.secret, code, Utc::now().timestamp()) else {
        return Ok(None);
    };
    let codes = new_recovery_codes();
    let hashes: Vec<String> = codes.iter().map(|c| recovery_hash(c)).collect();
    rows::enable(db, user_id, step, &hashes, Utc::now()).await?;
    audit::record(
        db,
        origin,
        Entry {
            action: audit_action::TOTP_ENABLED,
            target: Some(username),
            outcome: outcome::SUCCESS,
            details: serde_json::json!({ "recovery_codes": RECOVERY_CODES }),
        },
    )
    .await?;
    Ok(Some(codes))
}

/// Turns two-factor sign-in off (the caller has checked the password and a code).
pub async fn disable(
    db: &SqlitePool,
    origin: &Origin,
    user_id: i64,
    username: &str,
) -> sqlx::Result<()> {
    rows::remove(db, user_id).await?;
    audit::record(
        db,
        origin,
        Entry {
            action: audit_action::TOTP_DISABLED,
            target: Some(username),
            outcome: outcome::SUCCESS,
            details: serde_json::json!({}),
        },
    )
    .await?;
    Ok(())
}

/// An administrator (or the OS user, from the command line) removes `username`'s second
/// factor: the secret, a started enrolment and the recovery codes. Audited with whether
/// there was one; the caller ends the person's sessions.
pub async fn reset(
    db: &SqlitePool,
    origin: &Origin,
    user_id: i64,
    username: &str,
) -> sqlx::Result<bool> {
    let was_on = enabled(db, user_id).await?;
    rows::remove(db, user_id).await?;
    audit::record(
        db,
        origin,
        Entry {
            action: audit_action::TOTP_RESET,
            target: Some(username),
            outcome: outcome::SUCCESS,
            details: serde_json::json!({ "was_enabled": was_on }),
        },
    )
    .await?;
    Ok(was_on)
}

/// Two-factor status of a person: on or not, and recovery codes left.
pub async fn status(db: &SqlitePool, user_id: i64) -> sqlx::Result<(bool, i64)> {
    let on = enabled(db, user_id).await?;
    let left = if on {
        rows::recovery_left(db, user_id).await?
    } else {
        0
    };
    Ok((on, left))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1: the key is the ASCII "12345678901234567890".
    #[test]
    fn the_rfc_6238_test_vectors_match() {
        let key = b"12345678901234567890";
        for (time, eight) in [
            (59i64, 94287082u32),
            (1111111109, 7081804),
            (1111111111, 14050471),
            (1234567890, 89005924),
            (2000000000, 69279037),
            (20000000000, 65353130),
        ] {
            assert_eq!(hotp(key, step_of(time) as u64, 8), eight, "T = {time}");
            let secret = data_encoding::BASE32_NOPAD.encode(key);
            assert_eq!(
                code_at(&secret, step_of(time)),
                Some(format!("{:06}", eight % 1_000_000)),
            );
        }
    }

    #[test]
    fn a_code_matches_within_one_step_either_side_only() {
        let secret = new_secret();
        let now = 1_700_000_000;
        let step = step_of(now);
        for s in [step - 1, step, step + 1] {
            let c = code_at(&secret, s).expect("code");
            assert_eq!(matching_step(&secret, &c, now), Some(s));
        }
        let far = code_at(&secret, step + 3).expect("code");
        // A far code may collide with a near one by chance (1 in 10^6 per step).
        let near: Vec<_> = (step - 1..=step + 1).map(|s| code_at(&secret, s)).collect();
        if !near.contains(&Some(far.clone())) {
            assert_eq!(matching_step(&secret, &far, now), None);
        }
        assert_eq!(matching_step(&secret, "12345", now), None);
        assert_eq!(matching_step(&secret, "abcdef", now), None);
    }

    #[test]
    fn recovery_codes_are_ten_distinct_and_hash_the_same_however_typed() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), 10);
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 10);
        let c = &codes[0];
        assert_eq!(c.len(), 11);
        assert_eq!(
            recovery_hash(c),
            recovery_hash(&c.replace('-', "").to_uppercase())
        );
    }

    #[test]
    fn the_qr_code_is_an_svg_on_white_with_a_quiet_zone() {
        let uri = otpauth_uri("ops", "JBSWY3DPEHPK3PXP");
        let svg = qr_svg(&uri).expect("svg");
        let modules = qrcode::QrCode::new(uri.as_bytes()).expect("qr").width();
        let side = modules + 2 * QR_QUIET_ZONE;
        assert!(svg.starts_with("<?xml"), "{svg}");
        assert!(
            svg.contains(&format!("viewBox=\"0 0 {side} {side}\"")),
            "{svg}"
        );
        assert!(svg.contains(r##"fill="#ffffff""##) && svg.contains(r##"fill="#000000""##));
        assert!(qr_svg(&"x".repeat(5000)).is_none());
    }

    #[test]
    fn the_otpauth_uri_names_issuer_account_and_secret() {
        let uri = otpauth_uri("ops admin", "JBSWY3DPEHPK3PXP");
        assert!(
            uri.starts_with(
                "otpauth://totp/Lifeboat%3Aops+admin?secret=JBSWY3DPEHPK3PXP&issuer=Lifeboat"
            ),
            "{uri}"
        );
    }
}
