//! Decimal text to `f64`, as `str::parse::<f64>` reads it, for the z
//! threshold (its slider and the URL). The text is checked here against
//! Rust's grammar for `f64` (sign, digits, point, exponent; `inf`,
//! `infinity`, `nan` in any case), and the conversion is then the
//! browser's `parseFloat`, which rounds a decimal to the nearest `f64` as
//! Rust does. So the app does not carry core's own decimal-to-float
//! conversion, whose table of powers of five alone is 11 KB.

/// `s` as a float, or `None` where `s.parse::<f64>()` is an error.
pub fn parse_f64(s: &str) -> Option<f64> {
    let (negative, rest) = match s.as_bytes() {
        [b'+', rest @ ..] => (false, rest),
        [b'-', rest @ ..] => (true, rest),
        rest => (false, rest),
    };
    let sign = |v: f64| if negative { -v } else { v };
    if rest.eq_ignore_ascii_case(b"inf") || rest.eq_ignore_ascii_case(b"infinity") {
        return Some(sign(f64::INFINITY));
    }
    if rest.eq_ignore_ascii_case(b"nan") {
        return Some(sign(f64::NAN));
    }
    // Digits, an optional point and digits (at least one digit in all),
    // and an optional exponent with at least one digit.
    let digits = |from: usize| rest[from.min(rest.len())..].iter().take_while(|b| b.is_ascii_digit()).count();
    let whole = digits(0);
    let mut at = whole;
    let mut fraction = 0;
    if rest.get(at) == Some(&b'.') {
        fraction = digits(at + 1);
        at += 1 + fraction;
    }
    if whole + fraction == 0 {
        return None;
    }
    if matches!(rest.get(at), Some(b'e' | b'E')) {
        at += 1;
        if matches!(rest.get(at), Some(b'+' | b'-')) {
            at += 1;
        }
        let exponent = digits(at);
        if exponent == 0 {
            return None;
        }
        at += exponent;
    }
    (at == rest.len()).then(|| convert(s))
}

/// A text [`parse_f64`] accepted, as a float.
#[cfg(target_family = "wasm")]
fn convert(s: &str) -> f64 {
    js_sys::Number::parse_float(s)
}

#[cfg(not(target_family = "wasm"))]
fn convert(s: &str) -> f64 {
    s.parse().expect("checked against the grammar")
}

#[cfg(test)]
mod tests {
    use super::parse_f64;

    /// The same texts accepted and refused as by `str::parse::<f64>`.
    #[test]
    fn reads_what_rust_reads() {
        let texts = [
            "0",
            "3",
            "3.0",
            "2.5",
            "-1.5",
            "+4",
            "0.1",
            ".5",
            "5.",
            "5.e3",
            "1e5",
            "1E-3",
            "1e+2",
            "-0",
            "007.50",
            "1e400",
            "1e-400",
            "12345678901234567890123",
            "inf",
            "-inf",
            "+Infinity",
            "INF",
            "NaN",
            "nan",
            "-nan",
            "",
            "+",
            "-",
            ".",
            "e5",
            ".e5",
            "1e",
            "1e+",
            "1.2.3",
            " 3",
            "3 ",
            "0x10",
            "1_000",
            "3,5",
            "∞",
            "infinit",
            "infinityy",
            "nana",
            "+-3",
            "1e5.0",
            "--1",
            "abc",
            "3f",
            "1d",
        ];
        for t in texts {
            let ours = parse_f64(t);
            let rust = t.parse::<f64>().ok();
            assert_eq!(ours.is_some(), rust.is_some(), "{t:?}");
            if let (Some(a), Some(b)) = (ours, rust) {
                assert!(a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()), "{t:?}: {a} against {b}");
            }
        }
    }
}
