//! The submission rules: which fields and files make a valid submission,
//! the minimum age and the stricter-review band, the country deny list,
//! the daily cap and the retention period. `assess` is pure.

use bytes::Bytes;
use time::Date;

use super::age::{age_on, parse_birth_date};
use super::files::{inspect, DocumentKind, FileProblem};
use super::form::SubmissionForm;
use super::model::{DocumentRole, DocumentType};
use crate::config::{parsed_or, ConfigError, Env};
use crate::validation::FieldIssue;

/// The configured KYC rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KycPolicy {
    pub min_age: i32,
    /// Applicants up to this age (inclusive) get stricter review.
    pub strict_review_max_age: i32,
    /// ISO 3166-1 alpha-2 codes whose documents are refused.
    pub denied_countries: Vec<String>,
    /// Submissions (that passed validation) per user per UTC day.
    pub daily_uploads: u32,
    /// Seconds after a decision before documents and PII are erased.
    pub retention_seconds: i64,
}

impl Default for KycPolicy {
    fn default() -> Self {
        Self {
            min_age: 18,
            strict_review_max_age: 21,
            denied_countries: vec!["IR".into(), "KP".into(), "MM".into()],
            daily_uploads: 3,
            retention_seconds: 30 * 86_400,
        }
    }
}

fn invalid(var: &str, reason: &str) -> ConfigError {
    ConfigError::Invalid {
        var: var.to_string(),
        reason: reason.to_string(),
    }
}

impl KycPolicy {
    /// Reads `KYC_MIN_AGE`, `KYC_STRICT_REVIEW_MAX_AGE`, `KYC_DENIED_COUNTRIES`
    /// (comma list), `KYC_DAILY_UPLOADS` and `KYC_RETENTION_DAYS`.
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        let min_age: i32 = parsed_or(env, "KYC_MIN_AGE", defaults.min_age)?;
        if !(16..=25).contains(&min_age) {
            return Err(invalid("KYC_MIN_AGE", "must be between 16 and 25"));
        }
        let strict_review_max_age: i32 = parsed_or(
            env,
            "KYC_STRICT_REVIEW_MAX_AGE",
            defaults.strict_review_max_age,
        )?;
        if strict_review_max_age < min_age - 1 || strict_review_max_age > 30 {
            return Err(invalid(
                "KYC_STRICT_REVIEW_MAX_AGE",
                "must be between KYC_MIN_AGE - 1 and 30",
            ));
        }
        let denied_countries = match env.get("KYC_DENIED_COUNTRIES") {
            None => defaults.denied_countries,
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(|c| {
                    country_code(c)
                        .ok_or_else(|| invalid("KYC_DENIED_COUNTRIES", "entries are ISO alpha-2"))
                })
                .collect::<Result<_, _>>()?,
        };
        let daily_uploads: u32 = parsed_or(env, "KYC_DAILY_UPLOADS", defaults.daily_uploads)?;
        if !(1..=20).contains(&daily_uploads) {
            return Err(invalid("KYC_DAILY_UPLOADS", "must be between 1 and 20"));
        }
        let retention_days: i64 = parsed_or(env, "KYC_RETENTION_DAYS", 30)?;
        if !(1..=3650).contains(&retention_days) {
            return Err(invalid("KYC_RETENTION_DAYS", "must be between 1 and 3650"));
        }
        Ok(Self {
            min_age,
            strict_review_max_age,
            denied_countries,
            daily_uploads,
            retention_seconds: retention_days * 86_400,
        })
    }
}

/// A document file that passed the checks.
#[derive(Debug, Clone)]
pub struct CheckedFile {
    pub role: DocumentRole,
    pub kind: DocumentKind,
    pub bytes: Bytes,
}

/// A submission that passed every rule (PII still in clear: encrypt before storing).
#[derive(Debug, Clone)]
pub struct ValidSubmission {
    pub document_type: DocumentType,
    pub issuing_country: String,
    pub birth_date: Date,
    pub document_number: String,
    pub files: Vec<CheckedFile>,
    pub stricter_review: bool,
}

/// Why a submission was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("invalid fields")]
    Invalid(Vec<FieldIssue>),
    #[error("unsupported file type")]
    UnsupportedFile(Vec<FieldIssue>),
    #[error("file too large")]
    FileTooLarge(Vec<FieldIssue>),
    #[error("under the minimum age")]
    Underage,
    #[error("issuing country not supported")]
    CountryDenied,
}

/// Checks `form` against `policy` on `today`.
pub fn assess(
    form: SubmissionForm,
    policy: &KycPolicy,
    today: Date,
) -> Result<ValidSubmission, Refusal> {
    let mut issues = Vec::new();
    let text = |name: &str| form.text.get(name).map(|v| v.trim()).unwrap_or("");
    let document_type = DocumentType::parse(text("document_type"));
    if document_type.is_none() {
        issues.push(FieldIssue::new(
            "document_type",
            "passport, national_id or driving_licence",
        ));
    }
    let issuing_country = country_code(text("issuing_country"));
    if issuing_country.is_none() {
        issues.push(FieldIssue::new(
            "issuing_country",
            "an ISO 3166-1 alpha-2 code",
        ));
    }
    let birth_date =
        parse_birth_date(text("date_of_birth")).filter(|d| *d <= today && age_on(*d, today) <= 130);
    if birth_date.is_none() {
        issues.push(FieldIssue::new(
            "date_of_birth",
            "a past date as YYYY-MM-DD",
        ));
    }
    let document_number = normalise_document_number(text("document_number"));
    if document_number.is_none() {
        issues.push(FieldIssue::new(
            "document_number",
            "5 to 20 letters and digits",
        ));
    }
    if !form
        .files
        .iter()
        .any(|(role, _)| *role == DocumentRole::Front)
    {
        issues.push(FieldIssue::new(
            "front",
            "the front of the document is required",
        ));
    }
    let (Some(document_type), Some(issuing_country), Some(birth_date), Some(document_number)) =
        (document_type, issuing_country, birth_date, document_number)
    else {
        return Err(Refusal::Invalid(issues));
    };
    if !issues.is_empty() {
        return Err(Refusal::Invalid(issues));
    }
    let files = check_files(form.files)?;
    if age_on(birth_date, today) < policy.min_age {
        return Err(Refusal::Underage);
    }
    if policy.denied_countries.contains(&issuing_country) {
        return Err(Refusal::CountryDenied);
    }
    Ok(ValidSubmission {
        document_type,
        stricter_review: age_on(birth_date, today) <= policy.strict_review_max_age,
        issuing_country,
        birth_date,
        document_number,
        files,
    })
}

/// Decides each file's type from its bytes; every problem is reported.
fn check_files(files: Vec<(DocumentRole, Bytes)>) -> Result<Vec<CheckedFile>, Refusal> {
    let mut unsupported = Vec::new();
    let mut too_large = Vec::new();
    let mut invalid = Vec::new();
    let mut checked = Vec::new();
    for (role, bytes) in files {
        match inspect(&bytes) {
            Ok(DocumentKind::Pdf) if role == DocumentRole::Selfie => unsupported.push(
                FieldIssue::new(role.field(), "a selfie must be JPEG or PNG"),
            ),
            Ok(kind) => checked.push(CheckedFile { role, kind, bytes }),
            Err(FileProblem::UnsupportedType) => {
                unsupported.push(FieldIssue::new(role.field(), "JPEG, PNG or PDF only"))
            }
            Err(FileProblem::TooLarge) => {
                too_large.push(FieldIssue::new(role.field(), "at most 5 MiB"))
            }
            Err(problem) => invalid.push(FieldIssue::new(role.field(), problem.to_string())),
        }
    }
    if !too_large.is_empty() {
        return Err(Refusal::FileTooLarge(too_large));
    }
    if !unsupported.is_empty() {
        return Err(Refusal::UnsupportedFile(unsupported));
    }
    if !invalid.is_empty() {
        return Err(Refusal::Invalid(invalid));
    }
    checked.sort_by_key(|f| f.role);
    Ok(checked)
}

/// An ISO 3166-1 alpha-2 code in upper case.
fn country_code(text: &str) -> Option<String> {
    let code = text.trim().to_ascii_uppercase();
    (code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase())).then_some(code)
}

/// Upper-case letters and digits with spaces and dashes removed, 5 to 20 long.
fn normalise_document_number(text: &str) -> Option<String> {
    let cleaned: String = text
        .chars()
        .filter(|c| *c != ' ' && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    ((5..=20).contains(&cleaned.len()) && cleaned.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then_some(cleaned)
}

#[cfg(test)]
mod tests {
    use super::super::files::samples::{jpeg, png};
    use super::*;

    fn today() -> Date {
        parse_birth_date("2026-11-23").unwrap()
    }

    fn form(birth: &str, country: &str, files: Vec<(DocumentRole, Vec<u8>)>) -> SubmissionForm {
        let mut form = SubmissionForm::default();
        form.text.insert("document_type", "passport".into());
        form.text.insert("issuing_country", country.into());
        form.text.insert("date_of_birth", birth.into());
        form.text.insert("document_number", "x12 345-678".into());
        form.files = files
            .into_iter()
            .map(|(role, bytes)| (role, Bytes::from(bytes)))
            .collect();
        form
    }

    fn front() -> Vec<(DocumentRole, Vec<u8>)> {
        vec![(DocumentRole::Front, jpeg(1200, 800))]
    }

    #[test]
    fn a_complete_adult_submission_passes_and_is_normalised() {
        let valid = assess(
            form("1990-05-01", "fr", front()),
            &KycPolicy::default(),
            today(),
        )
        .unwrap();
        assert_eq!(valid.issuing_country, "FR");
        assert_eq!(valid.document_number, "X12345678");
        assert!(!valid.stricter_review);
        assert_eq!(valid.files[0].kind, DocumentKind::Jpeg);
    }

    #[test]
    fn the_minimum_age_and_the_buffer_band_follow_birthdays() {
        let policy = KycPolicy::default();
        let day_before = assess(form("2008-11-24", "FR", front()), &policy, today());
        assert_eq!(day_before.unwrap_err(), Refusal::Underage);
        let on_the_day = assess(form("2008-11-23", "FR", front()), &policy, today()).unwrap();
        assert!(on_the_day.stricter_review, "18 is inside the 18-21 band");
        let twenty_one = assess(form("2005-11-23", "FR", front()), &policy, today()).unwrap();
        assert!(twenty_one.stricter_review);
        let twenty_two = assess(form("2004-11-23", "FR", front()), &policy, today()).unwrap();
        assert!(!twenty_two.stricter_review);
    }

    #[test]
    fn a_leap_day_birthday_turns_eighteen_on_the_first_of_march() {
        let policy = KycPolicy::default();
        let on = |d: &str| parse_birth_date(d).unwrap();
        let refused = assess(form("2008-02-29", "FR", front()), &policy, on("2026-02-28"));
        assert_eq!(refused.unwrap_err(), Refusal::Underage);
        assert!(assess(form("2008-02-29", "FR", front()), &policy, on("2026-03-01")).is_ok());
    }

    #[test]
    fn denied_countries_and_bad_fields_are_refused() {
        let policy = KycPolicy::default();
        assert_eq!(
            assess(form("1990-01-01", "KP", front()), &policy, today()).unwrap_err(),
            Refusal::CountryDenied
        );
        let Refusal::Invalid(issues) =
            assess(form("2030-01-01", "France", vec![]), &policy, today()).unwrap_err()
        else {
            panic!("expected field issues");
        };
        let fields: Vec<&str> = issues.iter().map(|i| i.field.as_str()).collect();
        assert_eq!(fields, ["issuing_country", "date_of_birth", "front"]);
    }

    #[test]
    fn files_are_judged_by_their_bytes_not_their_part() {
        let policy = KycPolicy::default();
        let html = vec![(
            DocumentRole::Front,
            b"<html><body>hi</body></html>".to_vec(),
        )];
        assert!(matches!(
            assess(form("1990-01-01", "FR", html), &policy, today()),
            Err(Refusal::UnsupportedFile(_))
        ));
        let pdf_selfie = vec![
            (DocumentRole::Front, png(800, 600)),
            (DocumentRole::Selfie, b"%PDF-1.4\n%%EOF\n".to_vec()),
        ];
        assert!(matches!(
            assess(form("1990-01-01", "FR", pdf_selfie), &policy, today()),
            Err(Refusal::UnsupportedFile(_))
        ));
        let mut truncated = png(800, 600);
        truncated.truncate(20);
        let Err(Refusal::Invalid(issues)) = assess(
            form("1990-01-01", "FR", vec![(DocumentRole::Front, truncated)]),
            &policy,
            today(),
        ) else {
            panic!("expected a truncated file to be refused");
        };
        assert_eq!(issues[0].field, "front");
    }

    #[test]
    fn configuration_is_validated() {
        let env = |pairs: &[(&str, &str)]| -> std::collections::HashMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let policy = KycPolicy::from_env(&env(&[
            ("KYC_DENIED_COUNTRIES", "ru, by"),
            ("KYC_RETENTION_DAYS", "7"),
        ]))
        .unwrap();
        assert_eq!(policy.denied_countries, ["RU", "BY"]);
        assert_eq!(policy.retention_seconds, 7 * 86_400);
        assert!(KycPolicy::from_env(&env(&[("KYC_MIN_AGE", "12")])).is_err());
        assert!(KycPolicy::from_env(&env(&[("KYC_DENIED_COUNTRIES", "Russia")])).is_err());
        assert!(KycPolicy::from_env(&env(&[("KYC_DAILY_UPLOADS", "0")])).is_err());
    }
}
