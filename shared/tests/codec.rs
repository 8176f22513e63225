//! The binary encoding round-trips every valid body, and a broken or
//! hostile body is an error, never a panic.

use proptest::prelude::*;
use servicewatch_shared::codec::{decode, decode_panel, encode, DecodeError};
use servicewatch_shared::wire::{Daily, Series};
use servicewatch_shared::Day;

fn daily_strategy() -> impl Strategy<Value = Daily> {
    let series =
        ("[a-zA-Z0-9 _\\-é€]{0,12}", prop::collection::btree_map(-40_000i32..40_000, 0u64..(1 << 40), 0..40)).prop_map(
            |(key, m)| Series { key, dates: m.keys().map(|d| Day(*d)).collect(), values: m.into_values().collect() },
        );
    (-50_000i32..50_000, 0i32..1000, prop::collection::vec(series, 0..8)).prop_map(|(from, span, mut series)| {
        // Unique keys, as a panel needs.
        series.sort_by(|a, b| a.key.cmp(&b.key));
        series.dedup_by(|a, b| a.key == b.key);
        Daily { from: Day(from), to: Day(from + span), series }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn round_trip(d in daily_strategy()) {
        let bytes = encode(&d);
        prop_assert_eq!(decode(&bytes).unwrap(), d.clone());
        // Every strict prefix is rejected, as is any trailing byte.
        for cut in [0, 3, 4, bytes.len() / 2, bytes.len() - 1] {
            prop_assert!(decode(&bytes[..cut.min(bytes.len() - 1)]).is_err());
        }
        let mut longer = bytes.clone();
        longer.push(0);
        prop_assert_eq!(decode(&longer), Err(DecodeError::Trailing(1)));
    }

    #[test]
    fn hostile_bytes_never_panic(mut body in prop::collection::vec(any::<u8>(), 0..200), magic in any::<bool>()) {
        if magic && body.len() >= 4 {
            body[..4].copy_from_slice(b"SWD1");
        }
        let _ = decode_panel(&body);
    }

    #[test]
    fn flipped_bytes_never_panic(d in daily_strategy(), at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut bytes = encode(&d);
        let i = at.index(bytes.len());
        bytes[i] = byte;
        let _ = decode_panel(&bytes);
    }
}

#[test]
fn huge_lengths_do_not_allocate() {
    // Claims 2^62 series in a 14-byte body: rejected before allocating.
    let mut body = b"SWD1".to_vec();
    body.extend_from_slice(&[0, 0]);
    body.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f]);
    assert!(matches!(decode(&body), Err(DecodeError::Truncated(_))));
    assert_eq!(decode(b"JSON{}"), Err(DecodeError::BadMagic));
}

#[test]
fn decoded_panels_are_validated() {
    let d = Daily {
        from: Day(0),
        to: Day(9),
        series: vec![
            Series { key: "a".into(), dates: vec![Day(1)], values: vec![1] },
            Series { key: "a".into(), dates: vec![Day(2)], values: vec![1] },
        ],
    };
    let err = decode_panel(&encode(&d)).unwrap_err();
    assert!(err.to_string().contains("appears twice"), "{err}");
}
