//! Just enough JSON structure to find one member of a record without parsing all of it.
//!
//! Classification and id extraction need a top-level key or two, not a document tree. These
//! helpers walk raw bytes, skip strings with `memchr`, skip nested objects and arrays 64 bytes
//! at a time (`brackets.rs`), and never allocate. They assume well-formed JSON and report anything else as `None`
//! rather than guess; they are not a validator.

use std::ops::ControlFlow;

/// Index of the first byte at or after `i` that is not JSON white space.
pub(crate) fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\r' | b'\n') {
        i += 1;
    }
    i
}

/// How far a plain loop looks before handing a search to `memchr`: most JSON tokens (keys,
/// short values, the `":"` and `,"` between them) end within a few bytes, where memchr's setup
/// costs more than it saves. Measured on the corpus: id extraction about 2x faster.
const SHORT: usize = 16;

/// The first index in `hay` of `a` or `b`.
#[inline]
fn find2(a: u8, b: u8, hay: &[u8]) -> Option<usize> {
    let head = &hay[..hay.len().min(SHORT)];
    if let Some(p) = head.iter().position(|&c| c == a || c == b) {
        return Some(p);
    }
    if hay.len() <= SHORT {
        return None;
    }
    memchr::memchr2(a, b, &hay[SHORT..]).map(|p| p + SHORT)
}

/// The first index in `hay` of `a`, `b` or `c`.
#[cfg(any(test, feature = "testing"))]
#[inline]
fn find3(a: u8, b: u8, c: u8, hay: &[u8]) -> Option<usize> {
    let head = &hay[..hay.len().min(SHORT)];
    if let Some(p) = head.iter().position(|&x| x == a || x == b || x == c) {
        return Some(p);
    }
    if hay.len() <= SHORT {
        return None;
    }
    memchr::memchr3(a, b, c, &hay[SHORT..]).map(|p| p + SHORT)
}

/// `b[i]` is the opening quote of a string: the index just after its closing quote.
pub(crate) fn end_of_string(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    loop {
        let k = j + find2(b'"', b'\\', b.get(j..)?)?;
        if b[k] == b'"' {
            return Some(k + 1);
        }
        j = k + 2; // the escaped byte cannot end the string
    }
}

/// The index just after the JSON value that starts at `b[i]`.
pub(crate) fn end_of_value(b: &[u8], i: usize) -> Option<usize> {
    match *b.get(i)? {
        b'"' => end_of_string(b, i),
        b'{' | b'[' => super::brackets::end_of_container(b, i),
        _ => {
            let end = b[i..]
                .iter()
                .position(|c| matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\r' | b'\n'))
                .map_or(b.len(), |p| i + p);
            (end > i).then_some(end)
        }
    }
}

/// `b[i]` is `{` or `[`: the index just after its closing bracket, found token by token (a
/// `memchr` per string). The oracle that `brackets.rs`, which finds the same 64 bytes at a
/// time, is tested and fuzzed against.
#[cfg(any(test, feature = "testing"))]
pub(crate) fn end_of_container_by_tokens(b: &[u8], i: usize) -> Option<usize> {
    let open = *b.get(i)?;
    let close = super::brackets::closing_bracket(open)?;
    // Inside valid JSON the other bracket kind is balanced, so only this kind counts.
    let mut depth = 0usize;
    let mut j = i;
    loop {
        let k = j + find3(b'"', open, close, b.get(j..)?)?;
        if b[k] == b'"' {
            j = end_of_string(b, k)?;
        } else if b[k] == open {
            depth += 1;
            j = k + 1;
        } else {
            depth -= 1;
            j = k + 1;
            if depth == 0 {
                return Some(j);
            }
        }
    }
}

/// The opening quotes of the keys and string values of the object whose `{` is at `b[start]`,
/// found member by member: the oracle of [`super::brackets::top_level_strings`].
#[cfg(any(test, feature = "testing"))]
pub(crate) fn top_level_strings_by_tokens(b: &[u8], start: usize) -> Vec<usize> {
    let at = |part: &[u8]| part.as_ptr() as usize - b.as_ptr() as usize;
    let mut quotes = Vec::new();
    for (key, value) in members(b, start) {
        quotes.push(at(key) - 1);
        if value.first() == Some(&b'"') {
            quotes.push(at(value));
        }
    }
    quotes
}

/// The members of the object whose `{` is at `b[start]`, as raw (still escaped) key bytes and
/// raw value bytes. Stops at the end of the object or at the first thing that is not JSON.
pub(crate) fn members(b: &[u8], start: usize) -> Members<'_> {
    let ok = b.get(start) == Some(&b'{');
    Members {
        b,
        i: start + 1,
        done: !ok,
    }
}

/// Iterator returned by [`members`].
pub(crate) struct Members<'a> {
    b: &'a [u8],
    i: usize,
    done: bool,
}

impl<'a> Iterator for Members<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let item = self.member();
        if item.is_none() {
            self.done = true;
        }
        item
    }
}

impl<'a> Members<'a> {
    fn member(&mut self) -> Option<(&'a [u8], &'a [u8])> {
        let b = self.b;
        let mut i = skip_ws(b, self.i);
        if *b.get(i)? == b',' {
            i = skip_ws(b, i + 1);
        }
        // `}` or garbage: either way no more members.
        let (key, value, end) = member_at(b, i)?;
        self.i = end;
        Some((key, value))
    }
}

/// The member `"key": value` whose key's opening quote is at `b[i]`: its raw key (still
/// escaped), its raw value, and the index just after the value.
fn member_at(b: &[u8], i: usize) -> Option<(&[u8], &[u8], usize)> {
    if b.get(i) != Some(&b'"') {
        return None;
    }
    let key_end = end_of_string(b, i)?;
    let colon = skip_ws(b, key_end);
    if *b.get(colon)? != b':' {
        return None;
    }
    let v = skip_ws(b, colon + 1);
    let v_end = end_of_value(b, v)?;
    Some((&b[i + 1..key_end - 1], &b[v..v_end], v_end))
}

/// Finds top-level members of the object whose `{` is at `b[start]` by key: `f` gets each
/// member whose key is one of `keys` (its index in `keys` and its raw value), in order, and
/// says whether to go on; its break value is returned, `None` when the object ends first.
/// Other members cost next to nothing: the walk sees only the top level's strings
/// ([`super::brackets::top_level_strings`]), never a nested value's tokens.
pub(crate) fn find_members<'a, T>(
    b: &'a [u8],
    start: usize,
    keys: &[&[u8]],
    mut f: impl FnMut(usize, &'a [u8]) -> ControlFlow<T>,
) -> Option<T> {
    super::brackets::top_level_strings(b, start, |quote| {
        let rest = b.get(quote + 1..).unwrap_or_default();
        for (k, key) in keys.iter().enumerate() {
            // Byte by byte: keys are short, and most strings differ at their first byte (a
            // `memcmp` call per top-level string cost more than the walk).
            let same = rest.len() > key.len() && key.iter().zip(rest).all(|(a, c)| a == c);
            if same && rest[key.len()] == b'"' {
                // A key, if a `:` follows (a string value is never followed by one).
                if let Some((_, value, _)) = member_at(b, quote) {
                    return f(k, value);
                }
            }
        }
        ControlFlow::Continue(())
    })
}

/// The contents of a raw JSON string value (between the quotes, still escaped).
pub(crate) fn string_contents(raw: &[u8]) -> Option<&[u8]> {
    raw.strip_prefix(b"\"")?.strip_suffix(b"\"")
}

/// The value of member `key` in the object `raw`, if the object has it.
pub(crate) fn member<'a>(raw: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    members(raw, 0).find(|(k, _)| *k == key).map(|(_, v)| v)
}

/// Whether the JSON text `b` holds more than `max` values, counted as its commas and opening
/// brackets outside strings, plus one (an upper bound for valid JSON). One pass over the
/// bytes, stopping at `max`: a guard before a document tree is built (audit M4: 48 MiB of
/// `[0,0,…]` would be 24 M tree nodes). Text that is not JSON counts what it can; the parser
/// refuses it after.
pub(crate) fn more_values_than(b: &[u8], max: usize) -> bool {
    let mut count = 1usize;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => match end_of_string(b, i) {
                Some(end) => i = end,
                None => return false,
            },
            b',' | b'[' | b'{' => {
                count += 1;
                if count > max {
                    return true;
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    false
}

/// The document `b` (a JSON text) as a tree, refused without building one when it holds
/// more than `max_values` values (see [`more_values_than`]).
pub(crate) fn bounded_tree(b: &[u8], max_values: usize) -> Result<serde_json::Value, String> {
    if more_values_than(b, max_values) {
        return Err(format!(
            "more than {max_values} JSON values in {} bytes: not read",
            b.len()
        ));
    }
    serde_json::from_slice(b).map_err(|e| format!("not JSON: {e}"))
}

/// The members of the object that is the whole JSON text `b` (white space around it
/// allowed), raw as [`members`] gives them; `None` unless the object is whole and nothing but
/// white space follows it.
pub(crate) fn object_members(b: &[u8]) -> Option<Vec<(&[u8], &[u8])>> {
    let start = skip_ws(b, 0);
    let end = end_of_value(b, start)?;
    if b.get(start) != Some(&b'{') || skip_ws(b, end) != b.len() {
        return None;
    }
    let object = &b[start..end];
    let mut out = Vec::new();
    let mut i = 1;
    loop {
        i = skip_ws(object, i);
        if out.is_empty() && object.get(i) == Some(&b'}') {
            return (i + 1 == object.len()).then_some(out);
        }
        let (key, value, end) = member_at(object, i)?;
        out.push((key, value));
        i = skip_ws(object, end);
        match object.get(i)? {
            b',' => i += 1,
            b'}' => return (i + 1 == object.len()).then_some(out),
            _ => return None,
        }
    }
}

/// The elements of the raw JSON array `raw` (`[` to `]`), raw, one at a time (no list of
/// them is built: an array may hold millions); an `Err` item (then nothing more) when `raw`
/// is not one whole array. Elements are not checked beyond their extent: parse each on its
/// own.
pub(crate) fn elements(raw: &[u8]) -> Elements<'_> {
    let whole = raw.first() == Some(&b'[') && end_of_value(raw, 0) == Some(raw.len());
    Elements {
        raw,
        i: 1,
        state: if whole { Walk::First } else { Walk::Bad },
    }
}

/// Iterator returned by [`elements`].
pub(crate) struct Elements<'a> {
    raw: &'a [u8],
    i: usize,
    state: Walk,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Walk {
    First,
    Next,
    Bad,
    Done,
}

/// `raw` was not one whole JSON array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NotAnArray;

impl<'a> Iterator for Elements<'a> {
    type Item = Result<&'a [u8], NotAnArray>;

    fn next(&mut self) -> Option<Self::Item> {
        let raw = self.raw;
        let mut i = skip_ws(raw, self.i);
        match self.state {
            Walk::Done => return None,
            Walk::Bad => {
                self.state = Walk::Done;
                return Some(Err(NotAnArray));
            }
            Walk::First if raw.get(i) == Some(&b']') => {
                self.state = Walk::Done;
                return (i + 1 != raw.len()).then_some(Err(NotAnArray));
            }
            Walk::First => {}
            Walk::Next => match raw.get(i) {
                Some(b',') => i = skip_ws(raw, i + 1),
                Some(b']') if i + 1 == raw.len() => {
                    self.state = Walk::Done;
                    return None;
                }
                _ => {
                    self.state = Walk::Done;
                    return Some(Err(NotAnArray));
                }
            },
        }
        match end_of_value(raw, i) {
            Some(end) if !matches!(raw[i], b']' | b',' | b'}') => {
                self.i = end;
                self.state = Walk::Next;
                Some(Ok(&raw[i..end]))
            }
            _ => {
                self.state = Walk::Done;
                Some(Err(NotAnArray))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_values_to_guard_a_tree() {
        assert!(!more_values_than(b"[0,0,0]", 4));
        assert!(more_values_than(b"[0,0,0]", 3));
        assert!(!more_values_than(br#"{"a":",,,,[[[{{{"}"#, 2));
        assert!(!more_values_than(br#""unterminated,,,"#, 1));
        let bomb = format!("[{}0]", "0,".repeat(1_000_000));
        assert!(more_values_than(bomb.as_bytes(), 200_000));
        assert!(
            bounded_tree(bomb.as_bytes(), 200_000)
                .unwrap_err()
                .contains("more than 200000")
        );
        assert_eq!(
            bounded_tree(b"[1, 2]", 3).unwrap(),
            serde_json::json!([1, 2])
        );
        assert!(
            bounded_tree(b"[1, 2", 3)
                .unwrap_err()
                .starts_with("not JSON")
        );
    }

    #[test]
    fn whole_objects_and_arrays_or_nothing() {
        let m = object_members(b" {\"a\" : [1, {\"b\":\"]\"}] , \"c\":\"x\"} \n").unwrap();
        assert_eq!(
            m,
            vec![
                (&b"a"[..], &b"[1, {\"b\":\"]\"}]"[..]),
                (&b"c"[..], &b"\"x\""[..])
            ]
        );
        assert_eq!(object_members(b"{}"), Some(vec![]));
        for bad in [
            &b"{\"a\":1"[..],
            b"{\"a\":1} x",
            b"{\"a\":1,}",
            b"{\"a\" 1}",
            b"{,}",
            b"[1]",
            b"",
        ] {
            assert_eq!(
                object_members(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        fn all(raw: &[u8]) -> Result<Vec<&[u8]>, NotAnArray> {
            elements(raw).collect()
        }
        assert_eq!(
            all(b"[ 1 , \"a,b\" ,{\"c\":[2]} ]"),
            Ok(vec![&b"1"[..], b"\"a,b\"", b"{\"c\":[2]}"])
        );
        assert_eq!(all(b"[ ]"), Ok(vec![]));
        assert_eq!(all(b"[]"), Ok(vec![]));
        for bad in [
            &b"[1,]"[..],
            b"[1 2]",
            b"[1",
            b"[1]]",
            b"{}",
            b"[,1]",
            b"",
            b"[1,,2]",
        ] {
            assert_eq!(
                all(bad),
                Err(NotAnArray),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        // The first elements come before the fault is found.
        let mut it = elements(b"[1,2 3]");
        assert_eq!(it.next(), Some(Ok(&b"1"[..])));
        assert_eq!(it.next(), Some(Ok(&b"2"[..])));
        assert_eq!(it.next(), Some(Err(NotAnArray)));
        assert_eq!(it.next(), None);
    }

    #[test]
    fn walks_nested_members_and_tricky_strings() {
        let doc = br#"{ "a" : {"x":[1,{"}":"]"}]}, "b\"q":"s\\", "c":-12.5e3 ,"d":true,"e":null}"#;
        let got: Vec<_> = members(doc, 0)
            .map(|(k, v)| {
                (
                    String::from_utf8_lossy(k).into_owned(),
                    String::from_utf8_lossy(v).into_owned(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("a".into(), r#"{"x":[1,{"}":"]"}]}"#.into()),
                (r#"b\"q"#.into(), r#""s\\""#.into()),
                ("c".into(), "-12.5e3".into()),
                ("d".into(), "true".into()),
                ("e".into(), "null".into()),
            ]
        );
    }

    #[test]
    fn stops_on_garbage_without_panicking() {
        for doc in [
            &b"{"[..],
            b"{\"a",
            b"{\"a\":",
            b"{\"a\":\"x",
            b"{\"a\":{",
            b"{\"a\" 1}",
            b"[1]",
            b"",
        ] {
            assert!(
                members(doc, 0).count() <= 1,
                "{:?}",
                String::from_utf8_lossy(doc)
            );
        }
        assert_eq!(member(br#"{"a":1,"b":"x"}"#, b"b"), Some(&b"\"x\""[..]));
        assert_eq!(string_contents(b"\"x\""), Some(&b"x"[..]));
        assert_eq!(string_contents(b"1"), None);
    }
}
