//! One stable sort for every list the page sorts.

use std::cmp::Ordering;

/// `items` sorted by `cmp`, as `sort_by` sorts them (stable: equal items
/// keep their order). Through their indices, compared behind a `dyn`, so
/// the wasm carries one copy of core's sort for all the page's lists (the
/// table's rows, the marked days, the filters' values) rather than one
/// per element type and comparator.
pub fn sorted_by<T>(items: Vec<T>, cmp: impl Fn(&T, &T) -> Ordering) -> Vec<T> {
    let mut order: Vec<usize> = (0..items.len()).collect();
    sort_indices(&mut order, &|a, b| cmp(&items[a], &items[b]));
    let mut slots: Vec<Option<T>> = items.into_iter().map(Some).collect();
    order.into_iter().filter_map(|i| slots[i].take()).collect()
}

fn sort_indices(order: &mut [usize], cmp: &dyn Fn(usize, usize) -> Ordering) {
    order.sort_by(|&a, &b| cmp(a, b));
}

#[cfg(test)]
mod tests {
    use super::sorted_by;

    #[test]
    fn sorts_as_sort_by_does() {
        let items: Vec<(u32, char)> =
            (0..200u32).map(|i| ((i * 7919) % 13, char::from(b'a' + (i % 26) as u8))).collect();
        let mut want = items.clone();
        want.sort_by_key(|a| a.0);
        // Equal keys keep their order: the same as the stable sort's.
        assert_eq!(sorted_by(items.clone(), |a, b| a.0.cmp(&b.0)), want);
        want.sort_by(|a, b| b.cmp(a));
        assert_eq!(sorted_by(items, |a, b| b.cmp(a)), want);
        assert!(sorted_by(Vec::<String>::new(), String::cmp).is_empty());
    }
}
