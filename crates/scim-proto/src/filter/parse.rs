//! Lexer and recursive-descent parser for the filter ABNF of RFC 7644 §3.4.2.2 (Figure 1),
//! with precedence not > and > or, and depth and length limits.

use std::fmt;

use serde_json::Number;

use super::{CompValue, CompareOp, Filter, MAX_FILTER_DEPTH, MAX_FILTER_LEN, MAX_FILTER_TERMS};
use crate::error::ScimError;
use crate::path::AttrPath;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    LBracket,
    RBracket,
    Word(String),
    Str(String),
}

pub(super) struct Parser {
    toks: Vec<(Tok, usize)>,
    pos: usize,
    end: usize,
    depth: usize,
    /// Comparisons joined so far by `and`/`or`, less one.
    joins: usize,
    /// Inside `[...]`: paths are relative and value paths cannot nest.
    inner: bool,
}

fn err_at(offset: usize, msg: impl fmt::Display) -> ScimError {
    ScimError::invalid_filter(format!("invalid filter at offset {offset}: {msg}"))
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, ':' | '.' | '_' | '-' | '$' | '+')
}

fn lex(s: &str) -> Result<Vec<(Tok, usize)>, ScimError> {
    let mut toks = Vec::new();
    let mut chars = s.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        let tok = match c {
            c if c.is_whitespace() => {
                chars.next();
                continue;
            }
            '(' => Tok::LParen,
            ')' => Tok::RParen,
            '[' => Tok::LBracket,
            ']' => Tok::RBracket,
            '"' => {
                chars.next();
                let mut escaped = false;
                let end = loop {
                    match chars.next() {
                        None => return Err(err_at(i, "unterminated string")),
                        Some((_, _)) if escaped => escaped = false,
                        Some((_, '\\')) => escaped = true,
                        Some((j, '"')) => break j,
                        Some(_) => {}
                    }
                };
                let text: String =
                    serde_json::from_str(&s[i..=end]).map_err(|e| err_at(i, format!("invalid string literal: {e}")))?;
                toks.push((Tok::Str(text), i));
                continue;
            }
            c if is_word_char(c) => {
                let mut end = i;
                while let Some(&(j, c)) = chars.peek() {
                    if !is_word_char(c) {
                        break;
                    }
                    end = j + c.len_utf8();
                    chars.next();
                }
                toks.push((Tok::Word(s[i..end].to_string()), i));
                continue;
            }
            other => return Err(err_at(i, format!("unexpected character '{other}'"))),
        };
        chars.next();
        toks.push((tok, i));
    }
    Ok(toks)
}

impl Parser {
    pub(super) fn new(s: &str, inner: bool) -> Result<Self, ScimError> {
        if s.len() > MAX_FILTER_LEN {
            return Err(ScimError::invalid_filter(format!(
                "filter longer than {MAX_FILTER_LEN} characters"
            )));
        }
        Ok(Parser {
            toks: lex(s)?,
            pos: 0,
            end: s.len(),
            depth: 0,
            joins: 0,
            inner,
        })
    }

    pub(super) fn parse_all(mut self) -> Result<Filter, ScimError> {
        if self.toks.is_empty() {
            return Err(err_at(0, "empty filter"));
        }
        let f = self.parse_or()?;
        match self.toks.get(self.pos) {
            None => Ok(f),
            Some((_, at)) => Err(err_at(*at, "expected 'and', 'or' or the end of the filter")),
        }
    }

    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(t, _)| t)
    }

    fn offset(&self) -> usize {
        self.toks.get(self.pos).map_or(self.end, |(_, at)| *at)
    }

    fn peek_keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(kw))
    }

    fn expect(&mut self, tok: Tok, what: &str) -> Result<(), ScimError> {
        if self.peek() == Some(&tok) {
            self.pos += 1;
            Ok(())
        } else {
            Err(err_at(self.offset(), format!("expected {what}")))
        }
    }

    fn parse_or(&mut self) -> Result<Filter, ScimError> {
        let mut left = self.parse_and()?;
        while self.peek_keyword("or") {
            self.join()?;
            let right = self.parse_and()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn parse_and(&mut self) -> Result<Filter, ScimError> {
        let mut left = self.parse_unary()?;
        while self.peek_keyword("and") {
            self.join()?;
            let right = self.parse_unary()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    /// Step over `and`/`or`, counting the terms it joins.
    fn join(&mut self) -> Result<(), ScimError> {
        self.joins += 1;
        if self.joins >= MAX_FILTER_TERMS {
            return Err(err_at(
                self.offset(),
                format!("more than {MAX_FILTER_TERMS} comparisons joined by 'and'/'or'"),
            ));
        }
        self.pos += 1;
        Ok(())
    }

    fn parse_unary(&mut self) -> Result<Filter, ScimError> {
        self.depth += 1;
        if self.depth > MAX_FILTER_DEPTH {
            return Err(err_at(
                self.offset(),
                format!("nested deeper than {MAX_FILTER_DEPTH} levels"),
            ));
        }
        let result = match self.peek() {
            Some(Tok::LParen) => {
                self.pos += 1;
                let f = self.parse_or()?;
                self.expect(Tok::RParen, "')'")?;
                Ok(f)
            }
            // RFC form is `not (filter)`; `not attrExp` is accepted too. Either is one level
            // deep, so that `not a pr`, printed as `not (a pr)`, is within the limit again.
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("not") => {
                self.pos += 1;
                let inner = if self.peek() == Some(&Tok::LParen) {
                    self.pos += 1;
                    let f = self.parse_or()?;
                    self.expect(Tok::RParen, "')'")?;
                    f
                } else {
                    self.parse_unary()?
                };
                Ok(Filter::Not(Box::new(inner)))
            }
            Some(Tok::Word(_)) => self.parse_attr_exp(),
            _ => Err(err_at(self.offset(), "expected an attribute path, '(' or 'not'")),
        };
        self.depth -= 1;
        result
    }

    fn parse_path(&mut self) -> Result<AttrPath, ScimError> {
        let at = self.offset();
        let Some(Tok::Word(w)) = self.peek() else {
            return Err(err_at(at, "expected an attribute path"));
        };
        let path = AttrPath::parse(w).map_err(|_| err_at(at, format!("invalid attribute path '{w}'")))?;
        if self.inner && (path.uri.is_some() || path.sub.is_some()) {
            return Err(err_at(at, "paths inside '[...]' name a sub-attribute and nothing more"));
        }
        self.pos += 1;
        Ok(path)
    }

    fn parse_attr_exp(&mut self) -> Result<Filter, ScimError> {
        let path = self.parse_path()?;
        if self.peek() == Some(&Tok::LBracket) {
            return self.parse_value_path(path);
        }
        self.parse_op(path)
    }

    fn parse_op(&mut self, path: AttrPath) -> Result<Filter, ScimError> {
        let at = self.offset();
        let op = match self.peek() {
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("pr") => {
                self.pos += 1;
                return Ok(Filter::Present(path));
            }
            Some(Tok::Word(w)) => CompareOp::parse(w),
            _ => None,
        };
        let op = op.ok_or_else(|| err_at(at, "expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr)"))?;
        self.pos += 1;
        let value = self.parse_value()?;
        Ok(Filter::Compare { path, op, value })
    }

    fn parse_value(&mut self) -> Result<CompValue, ScimError> {
        let at = self.offset();
        let value = match self.peek() {
            Some(Tok::Str(s)) => CompValue::Str(s.clone()),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("true") => CompValue::Bool(true),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("false") => CompValue::Bool(false),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("null") => CompValue::Null,
            Some(Tok::Word(w)) if w.starts_with(|c: char| c == '-' || c.is_ascii_digit()) => {
                let n: Number = serde_json::from_str(w).map_err(|_| err_at(at, format!("invalid number '{w}'")))?;
                CompValue::Number(n)
            }
            _ => {
                return Err(err_at(
                    at,
                    "expected a value: a \"string\", a number, true, false or null",
                ));
            }
        };
        self.pos += 1;
        Ok(value)
    }

    /// `attr[filter]`, and Entra's `attr[filter].sub op value`, which is read as
    /// `attr[filter and sub op value]` (the same element must satisfy both).
    fn parse_value_path(&mut self, attr: AttrPath) -> Result<Filter, ScimError> {
        let at = self.offset();
        if self.inner || attr.sub.is_some() {
            return Err(err_at(at, "'[' must follow a top-level attribute and cannot nest"));
        }
        self.pos += 1;
        // `attr[inner].sub op value` prints as `attr[(inner) and sub op value]`: charge for the
        // parentheses, so that the printed form is within the limit whenever the text was.
        let close = self.toks[self.pos..].iter().position(|(t, _)| *t == Tok::RBracket);
        let sub_form = close
            .and_then(|i| self.toks.get(self.pos + i + 1))
            .is_some_and(|(t, _)| matches!(t, Tok::Word(w) if w.starts_with('.')));
        let levels = 1 + usize::from(sub_form);
        self.depth += levels;
        if self.depth > MAX_FILTER_DEPTH {
            return Err(err_at(at, format!("nested deeper than {MAX_FILTER_DEPTH} levels")));
        }
        self.inner = true;
        let inner = self.parse_or();
        self.inner = false;
        self.depth -= levels;
        let mut inner = inner?;
        self.expect(Tok::RBracket, "']'")?;
        let sub_at = self.offset();
        let sub = match self.peek() {
            Some(Tok::Word(w)) => w.strip_prefix('.').map(str::to_string),
            _ => None,
        };
        if let Some(sub) = sub {
            // `not` would print as the keyword inside the brackets: no attribute is named so.
            if !crate::path::is_attr_name(&sub) || sub.eq_ignore_ascii_case("not") {
                return Err(err_at(sub_at, format!("invalid sub-attribute '{sub}'")));
            }
            let sub = AttrPath::new(sub);
            self.pos += 1;
            let cond = self.parse_op(sub)?;
            inner = Filter::And(Box::new(inner), Box::new(cond));
        }
        Ok(Filter::ValuePath {
            attr,
            filter: Box::new(inner),
        })
    }
}
