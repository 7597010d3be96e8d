//! Durations on the command line: `90s`, `30m`, `24h`, `7d`, or plain seconds.

pub fn parse_secs(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: i64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration such as 90s, 30m, 24h or 7d"))?;
    let unit_secs = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("`{unit}` is not a unit: use s, m, h or d")),
    };
    number
        .checked_mul(unit_secs)
        .filter(|secs| *secs > 0)
        .ok_or_else(|| format!("`{text}` is out of range"))
}

#[cfg(test)]
mod tests {
    use super::parse_secs;

    #[test]
    fn parses_units() {
        assert_eq!(parse_secs("90"), Ok(90));
        assert_eq!(parse_secs("30m"), Ok(1800));
        assert_eq!(parse_secs("24h"), Ok(86_400));
        assert_eq!(parse_secs("14d"), Ok(1_209_600));
        assert!(parse_secs("2w").is_err());
        assert!(parse_secs("h").is_err());
        assert!(parse_secs("0").is_err());
    }
}
