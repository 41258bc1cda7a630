//! The simulator's PowerTrack rule language, a practical subset: parsing and validating a rule
//! value the way the service answers (only-negated rules, unbalanced parentheses or quotes,
//! unknown operators, lengths), and matching a record against it.
//!
//! Supported: keywords (case-insensitive, matched against the text's words), "exact phrases",
//! implicit AND by space, `OR`, `-` negation, parentheses, `#hashtag`, `@mention`, `from:`,
//! `to:`, `lang:`, `url:`, `has:links`, `has:hashtags`, `has:mentions`.

use serde_json::Value;

use crate::protocol::rules::{MAX_TAG_CHARS, MAX_VALUE_CHARS};

/// A parsed rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Node {
    /// A word, lowercase.
    Word(String),
    /// Words that must follow one another, lowercase.
    Phrase(Vec<String>),
    /// A term with no letters or digits (an emoji, say), lowercase: found anywhere in the text.
    Symbol(String),
    /// `#tag`, lowercase, without `#`.
    Hashtag(String),
    /// `@name`, lowercase, without `@`.
    Mention(String),
    /// `from:name` (or a numeric user id).
    From(String),
    /// `to:name`.
    To(String),
    /// `lang:xx`.
    Lang(String),
    /// `url:part`.
    Url(String),
    /// `has:links` / `has:hashtags` / `has:mentions`.
    Has(Has),
    /// Every one of these.
    And(Vec<Node>),
    /// Any one of these.
    Or(Vec<Node>),
    /// Not this.
    Not(Box<Node>),
}

/// What a `has:` operator asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Has {
    Links,
    Hashtags,
    Mentions,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    Or,
    /// A term, negated or not, with its position (1-based, in characters).
    Term {
        negated: bool,
        text: String,
        quoted: bool,
        at: usize,
    },
    /// `-(`: a negated group.
    NotOpen,
}

/// The words of a text: runs of letters, digits and `_`, lowercase.
pub(crate) fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

fn tokens(value: &str) -> Result<Vec<(Token, usize)>, String> {
    let chars: Vec<char> = value.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let at = i + 1;
        match chars[i] {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push((Token::Open, at));
                i += 1;
            }
            ')' => {
                out.push((Token::Close, at));
                i += 1;
            }
            _ => {
                let negated = chars[i] == '-';
                let start = if negated { i + 1 } else { i };
                if negated && chars.get(start) == Some(&'(') {
                    out.push((Token::NotOpen, at));
                    i = start + 1;
                    continue;
                }
                if chars.get(start) == Some(&'"') {
                    let close = chars[start + 1..]
                        .iter()
                        .position(|&c| c == '"')
                        .ok_or_else(|| format!("Unbalanced quotes (at position {at})"))?;
                    let text: String = chars[start + 1..start + 1 + close].iter().collect();
                    out.push((
                        Token::Term {
                            negated,
                            text,
                            quoted: true,
                            at,
                        },
                        at,
                    ));
                    i = start + close + 2;
                    continue;
                }
                let mut end = start;
                while end < chars.len()
                    && !chars[end].is_whitespace()
                    && chars[end] != '('
                    && chars[end] != ')'
                {
                    if chars[end] == '"' {
                        return Err(format!("Unbalanced quotes (at position {})", end + 1));
                    }
                    end += 1;
                }
                let text: String = chars[start..end].iter().collect();
                if text.is_empty() {
                    return Err(format!(
                        "A negation needs a term after it (at position {at})"
                    ));
                }
                if text == "OR" && !negated {
                    out.push((Token::Or, at));
                } else {
                    out.push((
                        Token::Term {
                            negated,
                            text,
                            quoted: false,
                            at,
                        },
                        at,
                    ));
                }
                i = end;
            }
        }
    }
    Ok(out)
}

fn term(text: &str, quoted: bool, at: usize) -> Result<Node, String> {
    if quoted {
        let w = words(text);
        if w.is_empty() {
            return Err(format!("An exact phrase needs words (at position {at})"));
        }
        return Ok(Node::Phrase(w));
    }
    if let Some(tag) = text.strip_prefix('#') {
        return Ok(Node::Hashtag(tag.to_lowercase()));
    }
    if let Some(name) = text.strip_prefix('@') {
        return Ok(Node::Mention(name.to_lowercase()));
    }
    if let Some((op, arg)) = text.split_once(':') {
        let arg = arg.to_lowercase();
        let node = match op {
            "from" => Node::From(arg),
            "to" => Node::To(arg),
            "lang" => Node::Lang(arg),
            "url" => Node::Url(arg),
            "has" => match arg.as_str() {
                "links" => Node::Has(Has::Links),
                "hashtags" => Node::Has(Has::Hashtags),
                "mentions" => Node::Has(Has::Mentions),
                _ => {
                    return Err(format!(
                        "Reference to invalid field 'has:{arg}' (at position {at})"
                    ));
                }
            },
            _ => {
                return Err(format!(
                    "Reference to invalid operator '{op}:' (at position {at})"
                ));
            }
        };
        if matches!(&node, Node::From(a) | Node::To(a) | Node::Lang(a) | Node::Url(a) if a.is_empty())
        {
            return Err(format!(
                "The operator '{op}:' needs a value (at position {at})"
            ));
        }
        return Ok(node);
    }
    let w = words(text);
    match w.len() {
        0 => Ok(Node::Symbol(text.to_lowercase())),
        1 => Ok(Node::Word(w.into_iter().next().unwrap_or_default())),
        _ => Ok(Node::Phrase(w)),
    }
}

struct Parser {
    tokens: Vec<(Token, usize)>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at).map(|(t, _)| t)
    }

    fn pos(&self) -> usize {
        self.tokens.get(self.at).map_or(0, |(_, p)| *p)
    }

    /// or := and ("OR" and)*
    fn or(&mut self) -> Result<Node, String> {
        let mut alts = vec![self.and()?];
        while self.peek() == Some(&Token::Or) {
            self.at += 1;
            if matches!(self.peek(), None | Some(Token::Close | Token::Or)) {
                return Err(format!("Ambiguous use of OR (at position {})", self.pos()));
            }
            alts.push(self.and()?);
        }
        Ok(if alts.len() == 1 {
            alts.remove(0)
        } else {
            Node::Or(alts)
        })
    }

    /// and := unary+
    fn and(&mut self) -> Result<Node, String> {
        let mut all = Vec::new();
        while let Some(t) = self.peek() {
            match t {
                Token::Or | Token::Close => break,
                _ => all.push(self.unary()?),
            }
        }
        match all.len() {
            0 => Err(format!(
                "Ambiguous use of OR, or an empty group (at position {})",
                self.pos().max(1)
            )),
            1 => Ok(all.remove(0)),
            _ => Ok(Node::And(all)),
        }
    }

    fn unary(&mut self) -> Result<Node, String> {
        let (t, at) = self.tokens[self.at].clone();
        self.at += 1;
        match t {
            Token::Open | Token::NotOpen => {
                let inner = self.or()?;
                if self.peek() != Some(&Token::Close) {
                    return Err(format!("Unmatched parenthesis (at position {at})"));
                }
                self.at += 1;
                Ok(if t == Token::NotOpen {
                    Node::Not(Box::new(inner))
                } else {
                    inner
                })
            }
            Token::Term {
                negated,
                text,
                quoted,
                at,
            } => {
                let node = term(&text, quoted, at)?;
                Ok(if negated {
                    Node::Not(Box::new(node))
                } else {
                    node
                })
            }
            Token::Close | Token::Or => Err(format!("Unexpected token (at position {at})")),
        }
    }
}

/// Whether a match of `node` needs at least one positive term (the service refuses rules made
/// only of negations).
fn has_positive(node: &Node) -> bool {
    match node {
        Node::Not(_) => false,
        Node::And(all) => all.iter().any(has_positive),
        Node::Or(alts) => alts.iter().all(has_positive),
        _ => true,
    }
}

/// Parses and validates a rule value, with the service's kind of message when it is refused.
pub(crate) fn parse(value: &str) -> Result<Node, String> {
    let n = value.chars().count();
    if n > MAX_VALUE_CHARS {
        return Err(format!(
            "Rule length exceeds the maximum of {MAX_VALUE_CHARS} characters ({n})"
        ));
    }
    let tokens = tokens(value)?;
    if tokens.is_empty() {
        return Err("A rule must not be empty".into());
    }
    let mut p = Parser { tokens, at: 0 };
    let node = p.or()?;
    if p.at < p.tokens.len() {
        return Err(format!("Unmatched parenthesis (at position {})", p.pos()));
    }
    if !has_positive(&node) {
        return Err("Rules must contain a non-negation term (at position 1)".into());
    }
    Ok(node)
}

/// Validates a rule (value and tag) as an add or a validation request does.
pub(crate) fn validate(value: &str, tag: Option<&str>) -> Result<Node, String> {
    if let Some(t) = tag {
        let n = t.chars().count();
        if n > MAX_TAG_CHARS {
            return Err(format!(
                "Tag length exceeds the maximum of {MAX_TAG_CHARS} characters ({n})"
            ));
        }
    }
    parse(value)
}

/// What a record offers to rules, read once per record.
#[derive(Debug, Default)]
pub(crate) struct Doc {
    text: String,
    words: Vec<String>,
    hashtags: Vec<String>,
    mentions: Vec<String>,
    from: Vec<String>,
    to: String,
    lang: String,
    urls: Vec<String>,
}

fn strs<'a>(v: &'a Value, list: &str, field: &str) -> Vec<&'a str> {
    v.pointer(list)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|x| x[field].as_str()).collect())
        .unwrap_or_default()
}

impl Doc {
    /// Reads an activity in either format; `None` for anything that is not one.
    pub(crate) fn of(record: &[u8]) -> Option<Doc> {
        let v: Value = serde_json::from_slice(record).ok()?;
        let native = v.get("created_at").is_some();
        let (text, ents, from, from_id, to, lang) = if native {
            let text = v
                .pointer("/extended_tweet/full_text")
                .or_else(|| v.get("full_text"))
                .or_else(|| v.get("text"))?
                .as_str()?;
            let ents = if v.pointer("/extended_tweet/entities").is_some() {
                "/extended_tweet/entities"
            } else {
                "/entities"
            };
            (
                text,
                ents,
                v.pointer("/user/screen_name").and_then(Value::as_str),
                v.pointer("/user/id_str").and_then(Value::as_str),
                v.get("in_reply_to_screen_name").and_then(Value::as_str),
                v.get("lang").and_then(Value::as_str),
            )
        } else {
            (
                v.get("body")?.as_str()?,
                "/twitter_entities",
                v.pointer("/actor/preferredUsername")
                    .and_then(Value::as_str),
                v.pointer("/actor/id")
                    .and_then(Value::as_str)
                    .and_then(|id| id.rsplit(':').next()),
                v.pointer("/inReplyTo/link")
                    .and_then(Value::as_str)
                    .and_then(|l| l.split('/').nth(3)),
                v.get("twitter_lang").and_then(Value::as_str),
            )
        };
        let lower = |x: Vec<&str>| x.into_iter().map(str::to_lowercase).collect::<Vec<_>>();
        let mut urls = strs(&v, &format!("{ents}/urls"), "expanded_url");
        urls.extend(strs(&v, &format!("{ents}/urls"), "url"));
        Some(Doc {
            text: text.to_lowercase(),
            words: words(text),
            hashtags: lower(strs(&v, &format!("{ents}/hashtags"), "text")),
            mentions: lower(strs(&v, &format!("{ents}/user_mentions"), "screen_name")),
            from: [from, from_id]
                .into_iter()
                .flatten()
                .map(str::to_lowercase)
                .collect(),
            to: to.unwrap_or_default().to_lowercase(),
            lang: lang.unwrap_or_default().to_lowercase(),
            urls: lower(urls),
        })
    }
}

/// Whether `doc` matches `node`.
pub(crate) fn matches(node: &Node, doc: &Doc) -> bool {
    match node {
        Node::Word(w) => doc.words.iter().any(|x| x == w),
        Node::Phrase(p) => doc.words.windows(p.len()).any(|win| win == p.as_slice()),
        Node::Symbol(t) => doc.text.contains(t.as_str()),
        Node::Hashtag(h) => doc.hashtags.iter().any(|x| x == h),
        Node::Mention(m) => doc.mentions.iter().any(|x| x == m),
        Node::From(f) => doc.from.iter().any(|x| x == f),
        Node::To(t) => doc.to == *t,
        Node::Lang(l) => doc.lang == *l,
        Node::Url(u) => doc.urls.iter().any(|x| x.contains(u.as_str())),
        Node::Has(Has::Links) => !doc.urls.is_empty(),
        Node::Has(Has::Hashtags) => !doc.hashtags.is_empty(),
        Node::Has(Has::Mentions) => !doc.mentions.is_empty(),
        Node::And(all) => all.iter().all(|n| matches(n, doc)),
        Node::Or(alts) => alts.iter().any(|n| matches(n, doc)),
        Node::Not(n) => !matches(n, doc),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> Doc {
        let v = serde_json::json!({
            "created_at": "Thu Jan 01 00:00:00 +0000 1970",
            "id_str": "1",
            "text": text,
            "lang": "en",
            "user": {"screen_name": "TwitterDev", "id_str": "2244994945"},
            "entities": {
                "hashtags": [{"text": "Rust"}],
                "user_mentions": [{"screen_name": "jack"}],
                "urls": [{"url": "https://t.co/x", "expanded_url": "https://example.com/page"}]
            }
        });
        Doc::of(v.to_string().as_bytes()).unwrap()
    }

    fn m(rule: &str, text: &str) -> bool {
        matches(&parse(rule).unwrap(), &doc(text))
    }

    #[test]
    fn the_subset_matches_as_documented() {
        let t = "The quick brown Fox jumps over the lazy dog";
        assert!(m("fox", t) && m("FOX dog", t) && !m("fox cat", t));
        assert!(m("cat OR dog", t) && !m("cat OR bird", t));
        assert!(m("\"quick brown fox\"", t) && !m("\"brown quick\"", t));
        assert!(m("fox -cat", t) && !m("fox -dog", t));
        assert!(m("(cat OR fox) (dog OR bird)", t));
        assert!(m("#rust", t) && !m("#go", t));
        assert!(m("@jack", t) && !m("@jill", t));
        assert!(m("from:twitterdev", t) && m("from:2244994945", t) && !m("from:other", t));
        assert!(m("lang:en", t) && !m("lang:fr", t));
        assert!(m("has:links", t) && m("url:example.com", t));
        assert!(m("fox -(cat OR bird)", t) && !m("fox -(dog OR bird)", t));
    }

    #[test]
    fn refusals_say_why_and_where() {
        for (rule, says) in [
            ("-follow", "non-negation term"),
            ("-a -b", "non-negation term"),
            ("(a b", "Unmatched parenthesis"),
            ("a b)", "Unmatched parenthesis"),
            ("\"a b", "Unbalanced quotes"),
            ("colour:red", "invalid operator 'colour:'"),
            ("has:gold", "invalid field"),
            ("a OR", "Ambiguous use of OR"),
            ("", "empty"),
        ] {
            let e = parse(rule).unwrap_err();
            assert!(e.contains(says), "{rule}: {e}");
        }
        assert!(parse(&"a".repeat(2049)).unwrap_err().contains("2048"));
        assert!(parse(&"a".repeat(2048)).is_ok());
        assert!(
            validate("a", Some(&"t".repeat(256)))
                .unwrap_err()
                .contains("255")
        );
        assert!(m("robot OR 🤖", "I ❤ 🤖") && !m("robot OR 🤖", "I ❤ 🐟"));
    }
}
