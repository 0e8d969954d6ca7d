//! The age rule: whole years lived on a given day. Someone born on 29
//! February turns a year older on 1 March in years without that day.

use time::{Date, Month, OffsetDateTime};

/// Age in whole years on `today` of someone born on `birth`.
pub fn age_on(birth: Date, today: Date) -> i32 {
    let had_birthday = (today.month() as u8, today.day()) >= (birth.month() as u8, birth.day());
    today.year() - birth.year() - i32::from(!had_birthday)
}

/// Today's date (UTC) at `now` (epoch seconds).
pub fn date_at(now: i64) -> Option<Date> {
    OffsetDateTime::from_unix_timestamp(now)
        .ok()
        .map(|t| t.date())
}

/// Parses an ISO `YYYY-MM-DD` date of birth.
pub fn parse_birth_date(text: &str) -> Option<Date> {
    let mut parts = text.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let month = Month::try_from(m.parse::<u8>().ok()?).ok()?;
    Date::from_calendar_date(y.parse().ok()?, month, d.parse().ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> Date {
        parse_birth_date(text).unwrap()
    }

    #[test]
    fn the_18th_birthday_is_the_boundary() {
        let birth = date("2008-06-15");
        assert_eq!(age_on(birth, date("2026-06-14")), 17);
        assert_eq!(age_on(birth, date("2026-06-15")), 18);
    }

    #[test]
    fn leap_day_birthdays_count_from_the_first_of_march() {
        let birth = date("2008-02-29");
        assert_eq!(age_on(birth, date("2026-02-28")), 17);
        assert_eq!(age_on(birth, date("2026-03-01")), 18);
        assert_eq!(age_on(date("2004-02-29"), date("2022-02-28")), 17);
        assert_eq!(
            age_on(date("2004-02-29"), date("2024-02-29")),
            20,
            "on the day in a leap year"
        );
    }

    #[test]
    fn only_real_iso_dates_parse() {
        assert!(parse_birth_date("2001-02-29").is_none());
        assert!(parse_birth_date("2000-13-01").is_none());
        assert!(parse_birth_date("1/2/2000").is_none());
        assert!(parse_birth_date("2000-01-01T00:00").is_none());
        assert_eq!(date_at(0).unwrap(), date("1970-01-01"));
    }
}
