//! `Retry-After` (RFC 9110 §10.2.3): a delay in seconds or an HTTP-date (§5.6.7), read as how
//! long to wait.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long the receiver asks us to wait. An HTTP-date is measured from `now`; a date already
/// past means "now". `None` when the value is neither form.
pub(crate) fn parse(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Too many digits to fit is still a clear "much later".
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = http_date(value, now)?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// An HTTP-date in any of the three forms a recipient must accept (RFC 9110 §5.6.7):
/// `Sun, 06 Nov 1994 08:49:37 GMT` (IMF-fixdate), `Sunday, 06-Nov-94 08:49:37 GMT` (RFC 850)
/// and `Sun Nov  6 08:49:37 1994` (asctime). `now` places RFC 850's two-digit year.
pub(crate) fn http_date(value: &str, now: SystemTime) -> Option<SystemTime> {
    let words: Vec<&str> = value.split([' ', ',', '-']).filter(|w| !w.is_empty()).collect();
    let (day, month, year, time) = match words.as_slice() {
        [_weekday, month, day, time, year] if month_number(month).is_some() => (day, month, year, time),
        [_weekday, day, month, year, time, "GMT"] => (day, month, year, time),
        _ => return None,
    };
    let month = month_number(month)?;
    let day: u32 = day.parse().ok().filter(|d| (1..=31).contains(d))?;
    let year: i64 = match (year.len(), year.parse::<i64>().ok()?) {
        (4, y) => y,
        // RFC 850's two-digit year: "more than 50 years in the future" means the last century.
        (2, y) => {
            let years_since_1970 = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() / 31_556_952);
            let this_year = 1970 + i64::try_from(years_since_1970).unwrap_or(0);
            let candidate = 2000 + y;
            if candidate > this_year + 50 {
                candidate - 100
            } else {
                candidate
            }
        }
        _ => return None,
    };
    let mut hms = time.split(':').map(|part| part.parse::<u64>().ok());
    let (Some(Some(hour)), Some(Some(minute)), Some(Some(second)), None) =
        (hms.next(), hms.next(), hms.next(), hms.next())
    else {
        return None;
    };
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let days = u64::try_from(days_from_civil(year, month, day)).ok()?;
    Some(UNIX_EPOCH + Duration::from_secs(days * 86_400 + hour * 3600 + minute * 60 + second))
}

fn month_number(name: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let index = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(name))?;
    u32::try_from(index + 1).ok()
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = i64::from((month + 9) % 12);
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOV_6_1994: u64 = 784_111_777;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn the_three_http_date_forms_name_the_same_instant() {
        for form in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
        ] {
            assert_eq!(http_date(form, at(NOV_6_1994)), Some(at(NOV_6_1994)), "{form}");
        }
    }

    #[test]
    fn seconds_are_a_delay_and_a_date_is_measured_from_now() {
        let now = at(NOV_6_1994);
        assert_eq!(parse("120", now), Some(Duration::from_secs(120)));
        assert_eq!(parse(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse("Sun, 06 Nov 1994 08:50:37 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(parse("Sun, 06 Nov 1994 08:00:00 GMT", now), Some(Duration::ZERO));
    }

    #[test]
    fn anything_else_is_no_retry_after() {
        let now = at(NOV_6_1994);
        for bad in [
            "",
            "-5",
            "1.5",
            "soon",
            "Sun, 32 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 25:00:00 GMT",
        ] {
            assert_eq!(parse(bad, now), None, "{bad}");
        }
    }

    #[test]
    fn dates_across_leap_years_and_centuries_count_days_right() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(2024, 2, 29), 19_782);
    }
}
