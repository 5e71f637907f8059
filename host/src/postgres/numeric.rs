//! PostgreSQL's binary `numeric` format, converted exactly to and from decimal strings.
//!
//! The wire format is a header of four 16-bit big-endian fields (`ndigits`, `weight`,
//! `sign`, `dscale`) followed by `ndigits` base-10000 digits. The value is
//! `sum(digit[i] * 10000^(weight - i))`, and `dscale` is the number of decimal digits
//! after the point. Converting through `f64` or a fixed-precision decimal would lose
//! digits, since `numeric` holds up to 131072 digits before the point.

const SIGN_POSITIVE: u16 = 0x0000;
const SIGN_NEGATIVE: u16 = 0x4000;
const SIGN_NAN: u16 = 0xC000;
const SIGN_POSITIVE_INFINITY: u16 = 0xD000;
const SIGN_NEGATIVE_INFINITY: u16 = 0xF000;

/// The largest `dscale` PostgreSQL accepts (`NUMERIC_DSCALE_MAX`).
const MAX_DSCALE: usize = 0x3FFF;

const DIGITS_PER_GROUP: usize = 4;

/// Decodes a binary `numeric` into its decimal text, `NaN`, `Infinity` or `-Infinity`.
pub fn numeric_pg_to_wit(raw: &[u8]) -> Result<String, String> {
    let field = |index: usize| -> Result<u16, String> {
        raw.get(index * 2..index * 2 + 2)
            .map(|bytes| u16::from_be_bytes([bytes[0], bytes[1]]))
            .ok_or_else(|| format!("numeric value is truncated at {} bytes", raw.len()))
    };

    let ndigits = usize::from(field(0)?);
    let weight = i64::from(field(1)? as i16);
    let sign = field(2)?;
    let dscale = usize::from(field(3)?);

    match sign {
        SIGN_NAN => return Ok("NaN".to_owned()),
        SIGN_POSITIVE_INFINITY => return Ok("Infinity".to_owned()),
        SIGN_NEGATIVE_INFINITY => return Ok("-Infinity".to_owned()),
        SIGN_POSITIVE | SIGN_NEGATIVE => {}
        other => return Err(format!("numeric value has an unknown sign field 0x{other:04X}")),
    }

    let mut digits = Vec::with_capacity(ndigits);
    for index in 0..ndigits {
        let digit = field(4 + index)?;
        if digit > 9999 {
            return Err(format!("numeric digit group {digit} is out of range 0..=9999"));
        }
        digits.push(digit);
    }

    // Digit group `i` has the place value 10000^(weight - i), so groups with a non-negative
    // exponent form the integer part and the rest the fraction.
    let integer_groups = (weight + 1).max(0) as usize;
    let mut text = String::new();
    if sign == SIGN_NEGATIVE && !digits.is_empty() {
        text.push('-');
    }

    if integer_groups == 0 {
        text.push('0');
    } else {
        for index in 0..integer_groups {
            let digit = digits.get(index).copied().unwrap_or(0);
            if index == 0 {
                text.push_str(&digit.to_string());
            } else {
                text.push_str(&format!("{digit:04}"));
            }
        }
    }

    if dscale > 0 {
        // Zero groups between the point and the first stored digit when weight < -1.
        let leading_zero_groups = (-weight - 1).max(0) as usize;
        let mut fraction = "0000".repeat(leading_zero_groups);
        for digit in digits.iter().skip(integer_groups) {
            fraction.push_str(&format!("{digit:04}"));
        }

        // `dscale` may cut trailing zeros of the last group or ask for more than stored.
        if fraction.len() > dscale {
            fraction.truncate(dscale);
        } else {
            fraction.extend(std::iter::repeat_n('0', dscale - fraction.len()));
        }
        text.push('.');
        text.push_str(&fraction);
    }

    Ok(text)
}

/// Encodes decimal text (optionally signed, with an optional fraction and exponent, or
/// `NaN`, `Infinity`, `inf` in any case) as a binary `numeric`.
pub fn numeric_wit_to_pg(text: &str) -> Result<Vec<u8>, String> {
    let trimmed = text.trim();
    let (negative, unsigned) = match trimmed.as_bytes().first() {
        Some(b'-') => (true, &trimmed[1..]),
        Some(b'+') => (false, &trimmed[1..]),
        _ => (false, trimmed),
    };

    let lower = unsigned.to_ascii_lowercase();
    if lower == "nan" && unsigned.len() == trimmed.len() {
        return Ok(header(0, 0, SIGN_NAN, 0));
    }
    if lower == "infinity" || lower == "inf" {
        let sign = if negative {
            SIGN_NEGATIVE_INFINITY
        } else {
            SIGN_POSITIVE_INFINITY
        };
        return Ok(header(0, 0, sign, 0));
    }

    let (integer_digits, fraction_digits) = parse_decimal(unsigned)
        .ok_or_else(|| format!("{text:?} is not a decimal number; expected digits with an optional sign, point and exponent, NaN or Infinity"))?;

    if fraction_digits.len() > MAX_DSCALE {
        return Err(format!(
            "{text:?} has {} digits after the point; numeric allows at most {MAX_DSCALE}",
            fraction_digits.len()
        ));
    }
    let dscale = fraction_digits.len();

    // Align both parts on base-10000 group boundaries: pad the integer part on the left
    // and the fraction on the right.
    let integer_digits = integer_digits.trim_start_matches('0');
    let integer_pad = (DIGITS_PER_GROUP - integer_digits.len() % DIGITS_PER_GROUP) % DIGITS_PER_GROUP;
    let fraction_pad = (DIGITS_PER_GROUP - fraction_digits.len() % DIGITS_PER_GROUP) % DIGITS_PER_GROUP;
    let aligned = format!(
        "{}{}{}{}",
        "0".repeat(integer_pad),
        integer_digits,
        fraction_digits,
        "0".repeat(fraction_pad)
    );

    let mut groups: Vec<u16> = aligned
        .as_bytes()
        .chunks(DIGITS_PER_GROUP)
        .map(|chunk| chunk.iter().fold(0u16, |acc, byte| acc * 10 + u16::from(byte - b'0')))
        .collect();
    let mut weight = ((integer_pad + integer_digits.len()) / DIGITS_PER_GROUP) as i64 - 1;

    // Stored digits carry no leading or trailing zero groups; the weight moves instead.
    let leading_zeros = groups.iter().take_while(|group| **group == 0).count();
    groups.drain(..leading_zeros);
    weight -= leading_zeros as i64;
    while groups.last() == Some(&0) {
        groups.pop();
    }

    if groups.is_empty() {
        return Ok(header(0, 0, SIGN_POSITIVE, dscale as u16));
    }
    let weight = i16::try_from(weight).map_err(|_| format!("{text:?} is out of the range of numeric"))?;
    let ndigits = u16::try_from(groups.len()).map_err(|_| format!("{text:?} has too many digits for numeric"))?;

    let sign = if negative { SIGN_NEGATIVE } else { SIGN_POSITIVE };
    let mut raw = header(ndigits, weight, sign, dscale as u16);
    for group in groups {
        raw.extend_from_slice(&group.to_be_bytes());
    }
    Ok(raw)
}

fn header(ndigits: u16, weight: i16, sign: u16, dscale: u16) -> Vec<u8> {
    let mut raw = Vec::with_capacity(8 + usize::from(ndigits) * 2);
    raw.extend_from_slice(&ndigits.to_be_bytes());
    raw.extend_from_slice(&weight.to_be_bytes());
    raw.extend_from_slice(&sign.to_be_bytes());
    raw.extend_from_slice(&dscale.to_be_bytes());
    raw
}

/// Splits `digits[.digits][e[+-]digits]` into integer and fraction digit strings with the
/// exponent applied. Returns `None` for anything else.
fn parse_decimal(text: &str) -> Option<(String, String)> {
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(position) => {
            let exponent: i64 = text[position + 1..].parse().ok()?;
            (&text[..position], exponent)
        }
        None => (text, 0),
    };
    let (integer, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));

    let all_digits = |part: &str| part.bytes().all(|byte| byte.is_ascii_digit());
    if integer.is_empty() && fraction.is_empty() || !all_digits(integer) || !all_digits(fraction) {
        return None;
    }

    // Moving the point by the exponent: a bound keeps "1e999999999" from allocating
    // gigabytes; numeric stores at most 131072 integer and 16383 fraction digits anyway.
    if exponent.unsigned_abs() > 200_000 {
        return None;
    }
    let all = format!("{integer}{fraction}");
    let point = integer.len() as i64 + exponent;
    if point <= 0 {
        let fraction = format!("{}{}", "0".repeat((-point) as usize), all);
        Some((String::new(), fraction))
    } else if point as usize >= all.len() {
        let integer = format!("{}{}", all, "0".repeat(point as usize - all.len()));
        Some((integer, String::new()))
    } else {
        let (integer, fraction) = all.split_at(point as usize);
        Some((integer.to_owned(), fraction.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::{numeric_pg_to_wit, numeric_wit_to_pg};

    fn round_trip(text: &str) -> String {
        let raw = numeric_wit_to_pg(text).expect("encodes");
        numeric_pg_to_wit(&raw).expect("decodes")
    }

    #[test]
    fn numeric_round_trips_exactly() {
        for text in [
            "0",
            "1",
            "-1",
            "9999",
            "10000",
            "12345678901234567890.12345",
            "-98765432109876543210987654321.000000001",
            "0.0001",
            "0.00000001",
            "0.10",
            "100000000",
            "-0.5",
            "3.14159265358979323846264338327950288419716939937510",
        ] {
            assert_eq!(round_trip(text), text, "round trip of {text}");
        }
    }

    #[test]
    fn numeric_special_values() {
        assert_eq!(round_trip("NaN"), "NaN");
        assert_eq!(round_trip("nan"), "NaN");
        assert_eq!(round_trip("Infinity"), "Infinity");
        assert_eq!(round_trip("-Infinity"), "-Infinity");
        assert_eq!(round_trip("+inf"), "Infinity");
    }

    #[test]
    fn numeric_normalises_input_forms() {
        assert_eq!(round_trip("+007.50"), "7.50");
        assert_eq!(round_trip("1.5e3"), "1500");
        assert_eq!(round_trip("15E-3"), "0.015");
        assert_eq!(round_trip(".5"), "0.5");
        assert_eq!(round_trip("-0"), "0");
        assert_eq!(round_trip("0.000"), "0.000");
    }

    #[test]
    fn numeric_with_thousand_digits() {
        let integer = "7".repeat(1000);
        let text = format!("{integer}.{}", "3".repeat(1000));
        assert_eq!(round_trip(&text), text);
    }

    #[test]
    fn numeric_rejects_garbage() {
        for text in ["", "abc", "1.2.3", "--1", "1e", "0x10", "1,5", "NaNx", "-NaN"] {
            assert!(numeric_wit_to_pg(text).is_err(), "{text:?} should be rejected");
        }
    }

    #[test]
    fn numeric_decodes_server_layout() {
        // 12345.678 as PostgreSQL sends it: digits [1, 2345, 6780], weight 1, dscale 3.
        let raw = [0, 3, 0, 1, 0, 0, 0, 3, 0, 1, 0x09, 0x29, 0x1A, 0x7C];
        assert_eq!(numeric_pg_to_wit(&raw).unwrap(), "12345.678");

        // 0.00000012 with weight -2: one zero group between the point and the digits.
        let raw = [0, 1, 0xFF, 0xFE, 0, 0, 0, 8, 0, 12];
        assert_eq!(numeric_pg_to_wit(&raw).unwrap(), "0.00000012");
    }

    #[test]
    fn numeric_rejects_truncated_input() {
        assert!(numeric_pg_to_wit(&[0, 2, 0, 0]).is_err());
        assert!(numeric_pg_to_wit(&[0, 2, 0, 0, 0, 0, 0, 0, 0, 1]).is_err());
    }
}
