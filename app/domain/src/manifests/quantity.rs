//! Kubernetes resource quantities (`500m`, `1Gi`, `2.5`, `1e3`) as the API server reads them.

/// A quantity's value in base units (cores, bytes), or why the text is not a quantity.
pub fn parse(text: &str) -> Result<f64, String> {
    let not = |why: &str| format!("'{text}' is not a quantity ({why}; e.g. 500m, 2, 1Gi, 512Mi)");
    let t = text.trim();
    if t.is_empty() {
        return Err(not("empty"));
    }
    let (sign, rest) = match t.as_bytes()[0] {
        b'+' => (1.0, &t[1..]),
        b'-' => (-1.0, &t[1..]),
        _ => (1.0, t),
    };
    let digits_end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let (number, suffix) = rest.split_at(digits_end);
    if number.is_empty() || number == "." || number.matches('.').count() > 1 {
        return Err(not("no number"));
    }
    let value: f64 = number.parse().map_err(|_| not("no number"))?;
    let factor = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        exponent if exponent.starts_with(['e', 'E']) => {
            let power: i32 = exponent[1..].parse().map_err(|_| not("unknown suffix"))?;
            if !(-30..=30).contains(&power) {
                return Err(not("exponent out of range"));
            }
            10f64.powi(power)
        }
        _ => return Err(not("unknown suffix")),
    };
    Ok(sign * value * factor)
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn quantities_read_as_the_api_server_reads_them() {
        assert_eq!(parse("500m").unwrap(), 0.5);
        assert_eq!(parse("2").unwrap(), 2.0);
        assert_eq!(parse("1Gi").unwrap(), 1024.0 * 1024.0 * 1024.0);
        assert_eq!(parse("512Mi").unwrap(), 512.0 * 1024.0 * 1024.0);
        assert_eq!(parse("1G").unwrap(), 1e9);
        assert_eq!(parse("1e3").unwrap(), 1000.0);
        assert_eq!(parse("0.5").unwrap(), 0.5);
        assert_eq!(parse("+1k").unwrap(), 1000.0);
        assert!(parse("1Gi").unwrap() > parse("1G").unwrap());
        for bad in [
            "", "Gi", "1 Gi", "1GB", "1.2.3", "abc", "1e99", "500M m", ".",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(
            parse("1GB")
                .unwrap_err()
                .contains("'1GB' is not a quantity")
        );
    }
}
