//! `f64` as decimal text, byte for byte as Rust's `{}`, `{:.N}` and
//! `{:+.N}` write it, without core's float formatting (flt2dec's Grisu and
//! Dragon: the app's wasm is 6.4 KB gzip smaller with this in place). The
//! shortest digits come from zmij, which serde_json already ships to write
//! JSON numbers; fixed digits are worked out exactly in integers. Native
//! tests compare every function with `format!`.

/// `format!("{x}")` (and `x.to_string()`): the fewest digits that read back
/// as `x`, never in exponent form (`1e21` is `1000000000000000000000`).
pub fn shortest(x: f64) -> String {
    if !x.is_finite() || x == 0.0 {
        return fixed(x, 0);
    }
    let mut buffer = zmij::Buffer::new();
    let text = buffer.format_finite(x.abs());
    // zmij writes `1.2345e+20`, `0.0001` or `1e-7`: read it as n · 10^q,
    // then lay the digits out as Rust does.
    let (mantissa, exponent) = match text.split_once('e') {
        Some((m, e)) => (m, e.parse::<isize>().expect("zmij writes an integer exponent")),
        None => (text, 0),
    };
    let fraction = mantissa.split_once('.').map_or(0, |(_, f)| f.len());
    let mut n = mantissa.bytes().filter(u8::is_ascii_digit).fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
    let mut q = exponent - fraction as isize;
    while n.is_multiple_of(10) {
        n /= 10;
        q += 1;
    }
    // Where `x` lies exactly halfway between two shortest candidates, zmij
    // takes the even one and Rust the upper one.
    if q < 0 && n.is_multiple_of(2) && halfway_above(x, n, q.unsigned_abs() as u32) {
        n += 1; // an odd last digit: no carry, no new zero
    }
    let digits = n.to_string();
    // Digits before the point: at most 0 for `0.00…`, more than there are
    // digits for a number written with zeros after them.
    let point = digits.len() as isize + q;
    let mut out = String::from(if x < 0.0 { "-" } else { "" });
    if point <= 0 {
        out.push_str("0.");
        out.push_str(&"0".repeat(point.unsigned_abs()));
        out.push_str(&digits);
    } else if point as usize >= digits.len() {
        out.push_str(&digits);
        out.push_str(&"0".repeat(point as usize - digits.len()));
    } else {
        let (before, after) = digits.split_at(point as usize);
        out.push_str(before);
        out.push('.');
        out.push_str(after);
    }
    out
}

/// Whether |x| is exactly (10·n + 5) · 10^-(decimals + 1): halfway between
/// n · 10^-decimals and the next number with that many decimals. (Only a
/// last digit after the point can tie: at 10^q with q ≥ 0, both candidates
/// in x's rounding interval need 10^q ≤ 2^e, the step between floats at
/// x, and x = (2n + 1) · 5^q · 2^(q - 1) a multiple of 2^e.)
fn halfway_above(x: f64, n: u64, decimals: u32) -> bool {
    let (m, e) = parts(x);
    // m · 5^p · 2^(e + p) = 10·n + 5, with p = decimals + 1. A product too
    // large for a u128 is no tie: 5^p is odd, so even with m's trailing
    // zeros shifted out it stays above 10·n + 5 < 2^64.
    let p = decimals + 1;
    let Some(left) = 5u128.checked_pow(p).and_then(|f| f.checked_mul(u128::from(m))) else {
        return false;
    };
    let right = 10 * u128::from(n) + 5;
    let shift = e + p as i32;
    let bits = shift.unsigned_abs();
    if shift >= 0 {
        bits <= left.leading_zeros() && left << bits == right
    } else {
        bits <= left.trailing_zeros() && left >> bits == right
    }
}

/// `|x| = m · 2^e` exactly, for a finite `x`.
fn parts(x: f64) -> (u64, i32) {
    let bits = x.to_bits();
    let (biased, stored) = ((bits >> 52 & 0x7ff) as i32, bits & ((1 << 52) - 1));
    if biased == 0 {
        (stored, -1074)
    } else {
        (stored | 1 << 52, biased - 1075)
    }
}

/// `format!("{x:.decimals$}")`: `x` rounded to `decimals` digits after the
/// point, half to even on its exact binary value. `decimals` is at most 22
/// (the page's most is 19, an amount's); more are written as 22, where the
/// integers below would overflow.
pub fn fixed(x: f64, decimals: usize) -> String {
    debug_assert!(decimals <= MAX_DECIMALS, "at most {MAX_DECIMALS} decimals");
    let decimals = decimals.min(MAX_DECIMALS);
    if x.is_nan() {
        return "NaN".into();
    }
    let sign = if x.is_sign_negative() { "-" } else { "" };
    if x.is_infinite() {
        return format!("{sign}inf");
    }
    let (m, e) = parts(x);
    let mut digits = if e >= 0 {
        // A whole number: its digits, then only zeros after the point.
        let mut limbs = vec![0; e as usize / 32];
        let wide = u128::from(m) << (e % 32);
        limbs.extend([wide as u32, (wide >> 32) as u32, (wide >> 64) as u32]);
        decimal(limbs) + &"0".repeat(decimals)
    } else {
        // m · 10^decimals < 2^53 · 10^22 < 2^127: the scaled value fits a
        // u128 and is rounded as it is shifted down by -e bits.
        let scaled = u128::from(m) * 10u128.pow(decimals as u32);
        let shift = e.unsigned_abs();
        let rounded = if shift >= 128 {
            0 // less than half a unit, 2^(shift - 1)
        } else {
            let (whole, rest, half) = (scaled >> shift, scaled & ((1 << shift) - 1), 1 << (shift - 1));
            whole + u128::from(rest > half || (rest == half && whole & 1 == 1))
        };
        decimal(vec![rounded as u32, (rounded >> 32) as u32, (rounded >> 64) as u32, (rounded >> 96) as u32])
    };
    if digits.len() <= decimals {
        digits.insert_str(0, &"0".repeat(decimals + 1 - digits.len()));
    }
    if decimals > 0 {
        digits.insert(digits.len() - decimals, '.');
    }
    digits.insert_str(0, sign);
    digits
}

/// The most decimals [`fixed`] writes: m · 10^22 < 2^53 · 10^22 < 2^127.
const MAX_DECIMALS: usize = 22;

/// `format!("{x:+.decimals$}")`: [`fixed`] with a `+` before a number
/// that is not negative (`NaN` has no sign).
pub fn signed(x: f64, decimals: usize) -> String {
    let text = fixed(x, decimals);
    if x.is_nan() || x.is_sign_negative() {
        text
    } else {
        format!("+{text}")
    }
}

/// The decimal digits of the whole number whose base-2^32 digits are
/// `limbs`, the least significant first.
fn decimal(mut limbs: Vec<u32>) -> String {
    let mut digits = Vec::new();
    loop {
        let mut rest = 0u64;
        for limb in limbs.iter_mut().rev() {
            let part = rest << 32 | u64::from(*limb);
            *limb = (part / 10) as u32;
            rest = part % 10;
        }
        digits.push(b'0' + rest as u8);
        while limbs.last() == Some(&0) {
            limbs.pop();
        }
        if limbs.is_empty() {
            break;
        }
    }
    digits.reverse();
    String::from_utf8(digits).expect("ASCII digits")
}

#[cfg(test)]
mod tests {
    use super::{fixed, shortest, signed};

    /// Values where the layouts and the rounding change, and a spread of
    /// bit patterns (every exponent, subnormals included).
    fn samples() -> Vec<f64> {
        let mut xs = vec![
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.5,
            1.5,
            2.5,
            -2.5,
            0.125,
            0.375,
            0.05,
            0.15,
            0.25,
            1.005,
            9.995,
            99.5,
            999.9999,
            0.1 + 0.2,
            3.0,
            1234.5,
            -0.004,
            1e-4,
            1e-5,
            1e-6,
            1e-7,
            1.5e-7,
            1e15,
            1e16,
            1e17,
            1.2345e20,
            1e21,
            1e22,
            1e100,
            -1e300,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
            2f64.powi(52),
            2f64.powi(53) + 2.0,
            2f64.powi(75),
            (2f64.powi(53) - 1.0) * 2f64.powi(74),
            f64::NAN,
            -f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            xs.push(f64::from_bits(state));
            // And numbers like the page's: a few digits around 1.
            xs.push((state % 2_000_001) as f64 / 1000.0 - 1000.0);
            xs.push(((state >> 20) % 100_000) as f64 / 8.0);
            // Halfway between two shortest candidates (`….25` with a step
            // of 0.25), and numbers with powers of five in their mantissa.
            xs.push((2f64.powi(50) + (state >> 14) as f64) + if state & 1 == 0 { 0.25 } else { 0.75 });
            let fives = 5u64.pow((state % 23) as u32);
            let m = fives * ((state >> 11) % ((1 << 53) / fives)); // < 2^53: exact
            xs.push(m as f64 * 2f64.powi((state >> 57) as i32 - 64));
        }
        xs
    }

    #[test]
    fn shortest_writes_what_display_writes() {
        for x in samples() {
            assert_eq!(shortest(x), format!("{x}"), "{:#x}", x.to_bits());
        }
    }

    #[test]
    fn fixed_writes_what_a_precision_writes() {
        for x in samples() {
            for d in 0..=19 {
                assert_eq!(fixed(x, d), format!("{x:.d$}"), "{:#x} to {d}", x.to_bits());
                assert_eq!(signed(x, d), format!("{x:+.d$}"), "{:#x} to {d}", x.to_bits());
            }
        }
    }
}
