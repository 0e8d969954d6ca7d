//! A second factor for every account, through the handler: enrolment with
//! backup codes, the two-step sign-in and its challenge, backup codes
//! spent once, regeneration, disabling, step-up; secrets sealed at rest.

mod common;

use std::sync::Arc;

use common::*;
use serde_json::{json, Value};
use shared::auth::totp::code_at;
use shared::ports::UserStore;

const EMAIL: &str = "mfa@example.com";

/// Signs up and enrols TOTP; returns (secret, backup codes, first pair).
async fn enrolled(h: &Harness, email: &str) -> (String, Vec<String>, Value) {
    let pair = h.signed_in(email).await;
    let access = pair["access_token"].as_str().unwrap();
    let started = h.call(event("totp-enroll").bearer(access)).await;
    assert_eq!(started.status, 200, "any user enrols: {}", started.body);
    let secret = started.body["secret"].as_str().unwrap().to_string();
    let code = code_at(&secret, START + h.elapsed()).unwrap();
    let confirmed = h
        .call(
            event("totp-confirm")
                .bearer(access)
                .body(json!({ "password": PASSWORD, "code": code })),
        )
        .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);
    let codes: Vec<String> = confirmed.body["backup_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    h.clock.advance(30);
    (secret, codes, pair)
}

trait Elapsed {
    fn elapsed(&self) -> i64;
}

impl Elapsed for Harness {
    fn elapsed(&self) -> i64 {
        use shared::clock::Clock;
        self.clock.now() - START
    }
}

fn now_code(h: &Harness, secret: &str) -> String {
    code_at(secret, START + h.elapsed()).unwrap()
}

async fn challenge(h: &Harness, email: &str) -> String {
    let reply = h.login(email, PASSWORD).await;
    assert_eq!(
        (reply.status, code(&reply)),
        (401, "MFA_REQUIRED"),
        "{}",
        reply.body
    );
    assert_eq!(reply.body["mfa"]["expires_in"], 300);
    reply.body["mfa"]["challenge"].as_str().unwrap().to_string()
}

async fn complete(h: &Harness, challenge: &str, factor: Value) -> Reply {
    let mut body = json!({ "challenge": challenge });
    for (k, v) in factor.as_object().unwrap() {
        body[k] = v.clone();
    }
    h.call(event("login-mfa").body(body)).await
}

#[tokio::test]
async fn any_user_enrols_and_gets_ten_backup_codes_stored_as_hashes() {
    let h = Harness::new();
    let (secret, codes, _) = enrolled(&h, EMAIL).await;
    assert_eq!(codes.len(), 10);
    let stored = h.store.user_by_email(EMAIL).await.unwrap().unwrap();
    let sealed = stored.totp.secret.clone().unwrap();
    assert!(
        sealed.starts_with("v1.") && !sealed.contains(&secret),
        "sealed at rest"
    );
    let text = format!("{stored:?}");
    for code in &codes {
        assert!(
            !text.contains(code.as_str()),
            "backup codes are stored hashed"
        );
    }
    assert!(h
        .subjects_to(EMAIL)
        .contains(&"Wallet: two-step sign-in turned on".to_string()));
}

#[tokio::test]
async fn sign_in_is_two_steps_and_the_challenge_works_once() {
    let h = Harness::new();
    let (secret, _, _) = enrolled(&h, EMAIL).await;
    let challenge = challenge(&h, EMAIL).await;
    let done = complete(&h, &challenge, json!({"totp_code": now_code(&h, &secret)})).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(
        claims(done.body["access_token"].as_str().unwrap())["amr"],
        json!(["pwd", "otp"])
    );
    h.clock.advance(30);
    let again = complete(&h, &challenge, json!({"totp_code": now_code(&h, &secret)})).await;
    assert_eq!(
        (again.status, code(&again)),
        (400, "TOKEN_INVALID"),
        "single use"
    );

    let fresh = challenge_for_step_reuse(&h).await;
    let used_step = complete(&h, &fresh, json!({"totp_code": now_code(&h, &secret)})).await;
    assert_eq!(used_step.status, 200, "the next step works");
    let replay_step = complete(
        &h,
        &challenge_for_step_reuse(&h).await,
        json!({"totp_code": now_code(&h, &secret)}),
    )
    .await;
    assert_eq!(
        (replay_step.status, code(&replay_step)),
        (401, "TOTP_INVALID"),
        "a used step is never accepted twice"
    );
}

async fn challenge_for_step_reuse(h: &Harness) -> String {
    challenge(h, EMAIL).await
}

#[tokio::test]
async fn a_challenge_is_bound_to_its_device_and_lasts_five_minutes() {
    let h = Harness::new();
    let (secret, _, _) = enrolled(&h, EMAIL).await;
    let issued = challenge(&h, EMAIL).await;
    let elsewhere = h
        .call(
            event("login-mfa")
                .body(json!({"challenge": issued, "totp_code": now_code(&h, &secret)}))
                .device("another-device-0009"),
        )
        .await;
    assert_eq!((elsewhere.status, code(&elsewhere)), (400, "TOKEN_INVALID"));
    h.clock.advance(300);
    let late = complete(&h, &issued, json!({"totp_code": now_code(&h, &secret)})).await;
    assert_eq!((late.status, code(&late)), (400, "TOKEN_INVALID"));
    let missing = complete(&h, &challenge(&h, EMAIL).await, json!({})).await;
    assert_eq!((missing.status, code(&missing)), (401, "TOTP_REQUIRED"));
}

#[tokio::test]
async fn wrong_codes_at_the_challenge_lock_the_account() {
    let h = Harness::new();
    enrolled(&h, EMAIL).await;
    let challenge = challenge(&h, EMAIL).await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let reply = complete(&h, &challenge, json!({"totp_code": "000000"})).await;
        statuses.push(reply.status);
    }
    assert_eq!(statuses.last(), Some(&423), "{statuses:?}");
}

#[tokio::test]
async fn a_backup_code_signs_in_once() {
    let h = Harness::new();
    let (_, codes, _) = enrolled(&h, EMAIL).await;
    let first = complete(
        &h,
        &challenge(&h, EMAIL).await,
        json!({"backup_code": codes[0]}),
    )
    .await;
    assert_eq!(first.status, 200, "{}", first.body);
    let again = complete(
        &h,
        &challenge(&h, EMAIL).await,
        json!({"backup_code": codes[0]}),
    )
    .await;
    assert_eq!((again.status, code(&again)), (401, "TOTP_INVALID"));
    let typed = codes[1].to_ascii_lowercase().replace('-', " ");
    let loose = complete(
        &h,
        &challenge(&h, EMAIL).await,
        json!({"backup_code": typed}),
    )
    .await;
    assert_eq!(loose.status, 200, "case and separators do not matter");
    let one_step = h
        .call(
            event("login")
                .body(json!({"email": EMAIL, "password": PASSWORD, "backup_code": codes[2]})),
        )
        .await;
    assert_eq!(one_step.status, 200, "a code may come with the password");
}

#[tokio::test]
async fn two_sign_ins_with_one_backup_code_at_once_one_wins() {
    let h = Arc::new(Harness::new());
    let (_, codes, _) = enrolled(&h, EMAIL).await;
    let challenges = [challenge(&h, EMAIL).await, challenge(&h, EMAIL).await];
    let racers: Vec<_> = challenges
        .into_iter()
        .map(|challenge| {
            let h = h.clone();
            let code = codes[3].clone();
            tokio::spawn(async move {
                complete(&h, &challenge, json!({"backup_code": code}))
                    .await
                    .status
            })
        })
        .collect();
    let mut wins = 0;
    for racer in racers {
        if racer.await.unwrap() == 200 {
            wins += 1;
        }
    }
    assert_eq!(wins, 1, "a backup code is spent once");
}

#[tokio::test]
async fn backup_codes_are_regenerated_with_a_current_code_only() {
    let h = Harness::new();
    let (secret, codes, pair) = enrolled(&h, EMAIL).await;
    let access = pair["access_token"].as_str().unwrap();
    let with_backup = h
        .call(
            event("backup-codes")
                .bearer(access)
                .body(json!({"code": codes[0]})),
        )
        .await;
    assert_eq!(with_backup.status, 401, "{}", with_backup.body);
    let renewed = h
        .call(
            event("backup-codes")
                .bearer(access)
                .body(json!({"code": now_code(&h, &secret)})),
        )
        .await;
    assert_eq!(renewed.status, 200, "{}", renewed.body);
    let fresh = renewed.body["backup_codes"][0]
        .as_str()
        .unwrap()
        .to_string();
    let old = complete(
        &h,
        &challenge(&h, EMAIL).await,
        json!({"backup_code": codes[0]}),
    )
    .await;
    assert_eq!(code(&old), "TOTP_INVALID", "the old codes stop working");
    let new = complete(
        &h,
        &challenge(&h, EMAIL).await,
        json!({"backup_code": fresh}),
    )
    .await;
    assert_eq!(new.status, 200);
}

#[tokio::test]
async fn disabling_needs_the_password_and_a_second_factor() {
    let h = Harness::new();
    let (secret, codes, pair) = enrolled(&h, EMAIL).await;
    let access = pair["access_token"].as_str().unwrap();
    let disable = |body: Value| h.call(event("totp-disable").bearer(access).body(body));
    let wrong_password =
        disable(json!({"password": "not the password", "totp_code": now_code(&h, &secret)})).await;
    assert_eq!(code(&wrong_password), "INVALID_CREDENTIALS");
    let no_factor = disable(json!({"password": PASSWORD})).await;
    assert_eq!(code(&no_factor), "TOTP_REQUIRED");
    // Still enrolled: the password alone is challenged.
    challenge(&h, EMAIL).await;
    let off = disable(json!({"password": PASSWORD, "backup_code": codes[5]})).await;
    assert_eq!(off.status, 204, "{}", off.body);
    assert_eq!(h.login(EMAIL, PASSWORD).await.status, 200, "one step again");
    let stored = h.store.user_by_email(EMAIL).await.unwrap().unwrap();
    assert!(stored.totp.secret.is_none() && stored.totp.backup_codes.is_empty());
}

#[tokio::test]
async fn step_up_answers_a_fresh_token_of_the_same_session() {
    let h = Harness::new();
    let (secret, _, pair) = enrolled(&h, EMAIL).await;
    let access = pair["access_token"].as_str().unwrap();
    let wrong = h
        .call(
            event("step-up")
                .bearer(access)
                .body(json!({"totp_code": "000000"})),
        )
        .await;
    assert_eq!(code(&wrong), "TOTP_INVALID");
    let up = h
        .call(
            event("step-up")
                .bearer(access)
                .body(json!({"totp_code": now_code(&h, &secret)})),
        )
        .await;
    assert_eq!(up.status, 200, "{}", up.body);
    let c = claims(up.body["access_token"].as_str().unwrap());
    assert_eq!(c["amr"], json!(["pwd", "otp"]));
    assert_eq!(c["sid"], pair["session_id"]);
    let replay = h
        .call(
            event("step-up")
                .bearer(access)
                .body(json!({"totp_code": now_code(&h, &secret)})),
        )
        .await;
    assert_eq!(code(&replay), "TOTP_INVALID", "the step was spent");
}

#[tokio::test]
async fn a_sign_in_challenge_does_not_outlive_a_password_reset() {
    let h = Harness::new();
    let (secret, _, _) = enrolled(&h, EMAIL).await;
    let issued = challenge(&h, EMAIL).await;
    h.forgot(EMAIL).await;
    let reset = h.emailed_token(EMAIL, "pr_").unwrap();
    assert_eq!(
        h.reset(&reset, "a brand new passphrase 5").await.status,
        204
    );
    let late = complete(&h, &issued, json!({"totp_code": now_code(&h, &secret)})).await;
    assert_eq!((late.status, code(&late)), (400, "TOKEN_INVALID"));
}

#[tokio::test]
async fn successful_step_ups_never_lock_the_account() {
    let h = Harness::new();
    let (secret, _, pair) = enrolled(&h, EMAIL).await;
    let access = pair["access_token"].as_str().unwrap();
    for round in 0..7 {
        h.clock.advance(30);
        let up = h
            .call(
                event("step-up")
                    .bearer(access)
                    .body(json!({"totp_code": now_code(&h, &secret)})),
            )
            .await;
        assert_eq!(up.status, 200, "round {round}: {}", up.body);
    }
    assert_eq!(
        complete(
            &h,
            &challenge(&h, EMAIL).await,
            json!({"totp_code": "000000"})
        )
        .await
        .status,
        401,
        "not locked: a wrong code is just wrong"
    );
}

#[tokio::test]
async fn a_stolen_access_token_cannot_put_its_own_second_factor_on_the_account() {
    let h = Harness::new();
    let pair = h.signed_in(EMAIL).await;
    let access = pair["access_token"].as_str().unwrap();
    let started = h.call(event("totp-enroll").bearer(access)).await;
    let secret = started.body["secret"].as_str().unwrap().to_string();
    let attempt = |body: Value| async {
        h.call(event("totp-confirm").bearer(access).body(body))
            .await
    };
    let without = attempt(json!({ "code": now_code(&h, &secret) })).await;
    assert_eq!(without.status, 400, "the password is required");
    let wrong = attempt(json!({ "password": "a guess", "code": now_code(&h, &secret) })).await;
    assert_eq!((wrong.status, code(&wrong)), (401, "INVALID_CREDENTIALS"));
    let user = h.store.user_by_email(EMAIL).await.unwrap().unwrap();
    assert!(
        user.totp.secret.is_none() && user.totp.backup_codes.is_empty(),
        "nothing was enrolled"
    );
    let signed_in = h.login(EMAIL, PASSWORD).await;
    assert_eq!(
        signed_in.status, 200,
        "sign-in still needs only the password"
    );
    let right = attempt(json!({ "password": PASSWORD, "code": now_code(&h, &secret) })).await;
    assert_eq!(right.status, 200, "{}", right.body);
}
