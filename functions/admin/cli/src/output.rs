//! What the tool prints: tables for people, the backend's JSON with `--json`.
//! Tokens are never printed. Text from the backend never reaches the
//! terminal raw: control characters (escape sequences among them) and
//! bidirectional overrides are shown as `\uXXXX` ([`terminal_safe`]).

use serde_json::{json, Value};

use crate::args::AdminCall;
use crate::http::Reply;
use crate::session::Profile;

/// A status line on stderr (stdout stays for results).
pub fn note(text: &str) {
    eprintln!("{}", terminal_safe(text, true));
}

/// `text` with every control character (C0, DEL, C1: ESC starts terminal
/// escape sequences) and every bidirectional formatting character written
/// as `\uXXXX`; newlines stay when `keep_newlines`. The escape is JSON's,
/// so printed JSON stays valid JSON with the same value.
pub fn terminal_safe(text: &str, keep_newlines: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let bidi = matches!(c, '\u{200E}' | '\u{200F}' | '\u{061C}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
        if (c == '\n' && keep_newlines) || !(c.is_control() || bidi) {
            out.push(c);
        } else {
            out.push_str(&format!("\\u{:04x}", c as u32));
        }
    }
    out
}

/// `2026-01-01 00:00:00Z` for a Unix time.
pub fn utc(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let rest = seconds.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// A cell: strings as they are, times readable, anything else as compact JSON.
fn cell(value: &Value, field: &str) -> String {
    match value {
        Value::Null => "-".into(),
        Value::String(text) => terminal_safe(text, false),
        Value::Number(n) if is_time(field) => n.as_i64().map(utc).unwrap_or_else(|| n.to_string()),
        Value::Array(items) if items.iter().all(Value::is_string) => terminal_safe(
            &items
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(","),
            false,
        ),
        other => terminal_safe(&other.to_string(), false),
    }
}

fn is_time(field: &str) -> bool {
    field == "at" || field.ends_with("_at")
}

/// Rows under aligned headers.
pub fn table(rows: &[Value], columns: &[(&str, &str)]) -> String {
    let mut grid: Vec<Vec<String>> = vec![columns.iter().map(|(h, _)| h.to_string()).collect()];
    for row in rows {
        grid.push(
            columns
                .iter()
                .map(|(_, field)| cell(&row[*field], field))
                .collect(),
        );
    }
    let widths: Vec<usize> = (0..columns.len())
        .map(|i| grid.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in grid {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(text, width)| format!("{text:<width$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// `field: value` lines for an object.
pub fn fields(value: &Value) -> String {
    let Some(object) = value.as_object() else {
        return format!("{}\n", terminal_safe(&value.to_string(), false));
    };
    let width = object.keys().map(|k| k.len()).max().unwrap_or(0);
    object
        .iter()
        .map(|(key, v)| {
            let key = terminal_safe(key, false);
            format!("{key:<width$}  {}\n", cell(v, &key))
        })
        .collect()
}

fn print_json(value: &Value) {
    let text = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
    println!("{}", terminal_safe(&text, true));
}

/// The result of an admin call.
pub fn admin(call: &AdminCall, reply: &Reply, as_json: bool) {
    let body = reply.json().unwrap_or(Value::Null);
    if as_json {
        let done = if reply.body.is_empty() {
            json!({ "status": reply.status })
        } else {
            body
        };
        print_json(&done);
        return;
    }
    print!(
        "{}",
        terminal_safe(&render(call, &body, reply.status), true)
    );
}

/// The table or lines for a call's answer.
pub fn render(call: &AdminCall, body: &Value, status: u16) -> String {
    let flag_columns = [
        ("KEY", "key"),
        ("KIND", "kind"),
        ("ENABLED", "enabled"),
        ("KILLED", "killed"),
        ("VISIBILITY", "visibility"),
        ("FAIL MODE", "fail_mode"),
        ("VERSION", "version"),
    ];
    let list = |field: &str| body[field].as_array().cloned().unwrap_or_default();
    match call {
        AdminCall::FlagsList => format!(
            "snapshot version {}, emergency switch {}\n{}",
            cell(&body["version"], "version"),
            if body["emergency"] == true {
                "ON"
            } else {
                "off"
            },
            table(&list("flags"), &flag_columns)
        ),
        AdminCall::FlagsDelete { key, .. } => format!("deleted flag {key} ({status})\n"),
        AdminCall::UsersUnlock { user_id } => format!("unlocked user {user_id} ({status})\n"),
        AdminCall::UsersResetTotp { user_id } => {
            format!("reset the two-step sign-in of user {user_id} ({status})\n")
        }
        AdminCall::UsersEndSessions { user_id } => {
            format!("ended every session of user {user_id} ({status})\n")
        }
        AdminCall::ReviewsList { .. } => table(
            &list("cases"),
            &[
                ("CASE", "case_id"),
                ("USER", "user_id"),
                ("AMOUNT", "amount"),
                ("CURRENCY", "currency"),
                ("SCORE", "score"),
                ("STATUS", "status"),
                ("OPENED", "opened_at"),
                ("REASONS", "reasons"),
            ],
        ),
        AdminCall::KycList { .. } => {
            let mut out = table(
                &list("submissions"),
                &[
                    ("SUBMISSION", "submission_id"),
                    ("USER", "user_id"),
                    ("STATUS", "status"),
                    ("DOCUMENT", "document_type"),
                    ("COUNTRY", "issuing_country"),
                    ("FILES", "documents"),
                    ("SUBMITTED", "submitted_at"),
                ],
            );
            if let Some(cursor) = body["next_cursor"].as_str() {
                out.push_str(&format!(
                    "more: --cursor {}\n",
                    terminal_safe(cursor, false)
                ));
            }
            out
        }
        AdminCall::AuditList { .. } => {
            let mut out = table(
                &list("entries"),
                &[
                    ("SEQ", "seq"),
                    ("AT", "at"),
                    ("ACTOR", "actor"),
                    ("IP", "ip"),
                    ("ACTION", "action"),
                    ("TARGET", "target"),
                ],
            );
            if let Some(before) = body["next_before"].as_u64() {
                out.push_str(&format!("more: --before {before}\n"));
            }
            out
        }
        AdminCall::AuditVerify => {
            let intact = body["intact"] == true;
            let mut out = format!(
                "audit chain {}: {} entries\n",
                if intact { "intact" } else { "BROKEN" },
                cell(&body["entries"], "entries")
            );
            for run in body["checked_by"].as_array().into_iter().flatten() {
                out.push_str(&format!(
                    "seq {}-{}: checked by key {}\n",
                    cell(&run["first_seq"], "first_seq"),
                    cell(&run["last_seq"], "last_seq"),
                    cell(&run["kid"], "kid")
                ));
            }
            if let Some(seq) = body["first_broken_seq"].as_u64() {
                out.push_str(&format!("first broken entry: seq {seq}"));
                if body["reason"].is_string() {
                    out.push_str(&format!(" ({})", cell(&body["reason"], "reason")));
                }
                out.push('\n');
            }
            out
        }
        _ => fields(body),
    }
}

/// After sign-in.
pub fn signed_in(name: &str, profile: &Profile, as_json: bool) {
    if as_json {
        print_json(&session_json(name, profile));
    } else {
        let line = format!(
            "signed in as {} (profile {name}, device {}); the access token is renewed until {}",
            profile.session.email,
            profile.device_id,
            utc(profile.session.refresh_expires_at)
        );
        println!("{}", terminal_safe(&line, false));
    }
}

fn session_json(name: &str, profile: &Profile) -> Value {
    json!({
        "profile": name,
        "email": profile.session.email,
        "session_id": profile.session.session_id,
        "device_id": profile.device_id,
        "api_url": profile.api_url,
        "admin_url": profile.admin_url,
        "region": profile.region,
        "unsigned": crate::http::unsigned_for(&profile.admin_url, profile.unsigned),
        "expires_at": profile.session.expires_at,
        "refresh_expires_at": profile.session.refresh_expires_at,
    })
}

/// The stored session, without its tokens.
pub fn session(name: &str, profile: &Profile, now: i64, as_json: bool) {
    let mut value = session_json(name, profile);
    if as_json {
        print_json(&value);
        return;
    }
    value["access"] = json!(if profile.session.access_expired(now) {
        "expired (renewed on the next call)"
    } else {
        "valid"
    });
    print!("{}", fields(&value));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_utc() {
        assert_eq!(utc(0), "1970-01-01 00:00:00Z");
        assert_eq!(utc(1_767_225_600), "2026-01-01 00:00:00Z");
        assert_eq!(utc(1_900_000_000), "2030-03-17 17:46:40Z");
    }

    #[test]
    fn flags_are_listed_in_a_table() {
        let body = json!({"version": 3, "emergency": false, "flags": [
            {"key": "new.checkout", "kind": "boolean", "enabled": true, "killed": false,
             "visibility": "public", "fail_mode": "closed", "version": 2}
        ]});
        let text = render(&AdminCall::FlagsList, &body, 200);
        assert!(
            text.starts_with("snapshot version 3, emergency switch off\nKEY"),
            "{text}"
        );
        assert!(text.contains("new.checkout  boolean  true"), "{text}");
    }

    #[test]
    fn a_broken_chain_says_where() {
        let body = json!({"intact": false, "entries": 7, "first_broken_seq": 4, "reason": "mac",
            "checked_by": [{"kid": "legacy-unkeyed", "first_seq": 1, "last_seq": 2},
                           {"kid": "a1", "first_seq": 3, "last_seq": 3}]});
        assert_eq!(
            render(&AdminCall::AuditVerify, &body, 200),
            "audit chain BROKEN: 7 entries\nseq 1-2: checked by key legacy-unkeyed\n\
             seq 3-3: checked by key a1\nfirst broken entry: seq 4 (mac)\n"
        );
        let old = json!({"intact": false, "entries": 7, "first_broken_seq": 4});
        assert_eq!(
            render(&AdminCall::AuditVerify, &old, 200),
            "audit chain BROKEN: 7 entries\nfirst broken entry: seq 4\n"
        );
    }

    #[test]
    fn control_characters_from_the_backend_are_escaped() {
        assert_eq!(
            terminal_safe("a\u{1b}]0;pwned\u{7}b\r\tc\u{9b}d\u{202e}e\nf", true),
            "a\\u001b]0;pwned\\u0007b\\u000d\\u0009c\\u009bd\\u202ee\nf"
        );
        assert_eq!(terminal_safe("x\ny", false), "x\\u000ay");
        assert_eq!(terminal_safe("plain ü text", false), "plain ü text");

        let body = json!({"version": 1, "emergency": false, "flags": [
            {"key": "k\u{1b}[2J\nKEY  forged", "kind": "boolean", "enabled": true,
             "killed": false, "visibility": "public", "fail_mode": "closed", "version": 1}
        ]});
        let text = render(&AdminCall::FlagsList, &body, 200);
        assert!(!text.contains('\u{1b}'), "{text:?}");
        assert_eq!(text.lines().count(), 3, "one row per flag: {text:?}");
        assert!(text.contains("k\\u001b[2J\\u000aKEY  forged"), "{text:?}");

        let fields = render(
            &AdminCall::KycShow { id: "s".into() },
            &json!({"status": "ok\u{7}", "note\u{1b}": ["a\u{1b}", "b"]}),
            200,
        );
        assert!(
            !fields.chars().any(|c| c.is_control() && c != '\n'),
            "{fields:?}"
        );

        // JSON stays JSON: the escape is JSON's own.
        let printed = terminal_safe(
            &serde_json::to_string_pretty(&json!({"m": "x\u{9b}y\u{202e}"})).unwrap(),
            true,
        );
        let back: Value = serde_json::from_str(&printed).unwrap();
        assert_eq!(back["m"], "x\u{9b}y\u{202e}");
    }
}
