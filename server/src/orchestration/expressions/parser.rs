//! The expression grammar (a Spinnaker-compatible subset of SpEL), parsed with nom.
//!
//! ```text
//! expr       := ternary
//! ternary    := elvis ( '?' expr ':' expr )?
//! elvis      := or ( '?:' or )*
//! or         := and ( ('||' | 'or') and )*
//! and        := equality ( ('&&' | 'and') equality )*
//! equality   := comparison ( ('==' | '!=') comparison )*
//! comparison := additive ( ('<=' | '>=' | '<' | '>') additive )?
//! additive   := term ( ('+' | '-') term )*
//! term       := unary ( ('*' | '/' | '%') unary )*
//! unary      := ('!' | 'not' | '-') unary | postfix
//! postfix    := primary ( ('.' | '?.') ident call? | '[' expr ']' )*
//! primary    := number | string | true | false | null | '#' ident call? | ident
//!             | '(' expr ')' | '{' (expr (',' expr)*)? '}'
//! ```

use nom::IResult;
use nom::branch::alt;
use nom::bytes::complete::{tag, take_while, take_while1};
use nom::character::complete::{char, digit1, multispace0};
use nom::combinator::{map, opt, recognize, value};
use nom::multi::{many0, separated_list0};
use nom::sequence::{delimited, pair, preceded, terminated, tuple};
use serde_json::Value;

#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Literal(Value),
    /// A name looked up on the root (`trigger`, `parameters`, `execution`, ...).
    Root(String),
    Property {
        target: Box<Expr>,
        name: String,
        safe: bool,
    },
    Index {
        target: Box<Expr>,
        index: Box<Expr>,
    },
    Method {
        target: Box<Expr>,
        name: String,
        args: Vec<Expr>,
        safe: bool,
    },
    /// `#name(args)`: a helper function.
    Function {
        name: String,
        args: Vec<Expr>,
    },
    /// `#name` without a call.
    Variable(String),
    Not(Box<Expr>),
    Negate(Box<Expr>),
    Binary {
        op: BinaryOp,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    Ternary {
        condition: Box<Expr>,
        then: Box<Expr>,
        otherwise: Box<Expr>,
    },
    Elvis {
        value: Box<Expr>,
        fallback: Box<Expr>,
    },
    List(Vec<Expr>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

type Res<'a, T> = IResult<&'a str, T>;

fn ws<'a, T>(inner: impl FnMut(&'a str) -> Res<'a, T>) -> impl FnMut(&'a str) -> Res<'a, T> {
    delimited(multispace0, inner, multispace0)
}

fn ident(input: &str) -> Res<'_, String> {
    map(
        recognize(pair(
            take_while1(|c: char| c.is_ascii_alphabetic() || c == '_' || c == '$'),
            take_while(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == '$'),
        )),
        str::to_owned,
    )(input)
}

/// A keyword that is not the start of a longer name.
fn keyword<'a>(word: &'static str) -> impl FnMut(&'a str) -> Res<'a, &'a str> {
    move |input: &'a str| {
        let (rest, w) = tag(word)(input)?;
        if rest.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
            return Err(nom::Err::Error(nom::error::Error::new(
                input,
                nom::error::ErrorKind::Tag,
            )));
        }
        Ok((rest, w))
    }
}

fn number(input: &str) -> Res<'_, Expr> {
    let (rest, text) = recognize(pair(digit1, opt(pair(char('.'), digit1))))(input)?;
    let value = if text.contains('.') {
        serde_json::Number::from_f64(text.parse().unwrap_or(0.0))
            .map(Value::Number)
            .unwrap_or(Value::Null)
    } else {
        text.parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::from(text.parse::<f64>().unwrap_or(0.0)))
    };
    Ok((rest, Expr::Literal(value)))
}

/// `'...'` (with `''` for a quote, as SpEL) or `"..."` (with `\"`).
fn string(input: &str) -> Res<'_, Expr> {
    let quote = input.chars().next().filter(|c| *c == '\'' || *c == '"');
    let Some(quote) = quote else {
        return Err(nom::Err::Error(nom::error::Error::new(
            input,
            nom::error::ErrorKind::Char,
        )));
    };
    let mut out = String::new();
    let mut chars = input[1..].char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == quote {
            if quote == '\'' && chars.peek().map(|(_, n)| *n) == Some('\'') {
                chars.next();
                out.push('\'');
                continue;
            }
            return Ok((&input[1 + i + 1..], Expr::Literal(Value::String(out))));
        }
        if c == '\\' && quote == '"' {
            if let Some((_, next)) = chars.next() {
                out.push(match next {
                    'n' => '\n',
                    't' => '\t',
                    other => other,
                });
            }
            continue;
        }
        out.push(c);
    }
    Err(nom::Err::Failure(nom::error::Error::new(
        input,
        nom::error::ErrorKind::Char,
    )))
}

fn args(input: &str) -> Res<'_, Vec<Expr>> {
    delimited(
        ws(char('(')),
        separated_list0(ws(char(',')), expr),
        ws(char(')')),
    )(input)
}

fn primary(input: &str) -> Res<'_, Expr> {
    ws(alt((
        number,
        string,
        value(Expr::Literal(Value::Bool(true)), keyword("true")),
        value(Expr::Literal(Value::Bool(false)), keyword("false")),
        value(Expr::Literal(Value::Null), keyword("null")),
        map(
            pair(preceded(char('#'), ident), opt(args)),
            |(name, args)| match args {
                Some(args) => Expr::Function { name, args },
                None => Expr::Variable(name),
            },
        ),
        map(ident, Expr::Root),
        delimited(char('('), expr, ws(char(')'))),
        map(
            delimited(
                char('{'),
                separated_list0(ws(char(',')), expr),
                ws(char('}')),
            ),
            Expr::List,
        ),
    )))(input)
}

enum Suffix {
    Member {
        name: String,
        args: Option<Vec<Expr>>,
        safe: bool,
    },
    Index(Expr),
}

fn suffix(input: &str) -> Res<'_, Suffix> {
    alt((
        map(
            tuple((alt((tag("?."), tag("."))), ws(ident), opt(args))),
            |(dot, name, args)| Suffix::Member {
                name,
                args,
                safe: dot == "?.",
            },
        ),
        map(delimited(ws(char('[')), expr, ws(char(']'))), Suffix::Index),
    ))(input)
}

fn postfix(input: &str) -> Res<'_, Expr> {
    let (rest, first) = primary(input)?;
    let (rest, suffixes) = many0(ws(suffix))(rest)?;
    let built = suffixes.into_iter().fold(first, |target, s| match s {
        Suffix::Member {
            name,
            args: Some(args),
            safe,
        } => Expr::Method {
            target: Box::new(target),
            name,
            args,
            safe,
        },
        Suffix::Member {
            name,
            args: None,
            safe,
        } => Expr::Property {
            target: Box::new(target),
            name,
            safe,
        },
        Suffix::Index(index) => Expr::Index {
            target: Box::new(target),
            index: Box::new(index),
        },
    });
    Ok((rest, built))
}

fn unary(input: &str) -> Res<'_, Expr> {
    ws(alt((
        map(preceded(alt((tag("!"), keyword("not"))), unary), |e| {
            Expr::Not(Box::new(e))
        }),
        map(preceded(char('-'), unary), |e| Expr::Negate(Box::new(e))),
        postfix,
    )))(input)
}

/// Left-associative binary levels.
fn level<'a>(
    next: fn(&'a str) -> Res<'a, Expr>,
    ops: fn(&'a str) -> Res<'a, BinaryOp>,
) -> impl FnMut(&'a str) -> Res<'a, Expr> {
    move |input| {
        let (rest, first) = next(input)?;
        let (rest, tail) = many0(pair(ws(ops), next))(rest)?;
        Ok((
            rest,
            tail.into_iter()
                .fold(first, |left, (op, right)| Expr::Binary {
                    op,
                    left: Box::new(left),
                    right: Box::new(right),
                }),
        ))
    }
}

fn term(input: &str) -> Res<'_, Expr> {
    level(unary, |i| {
        alt((
            value(BinaryOp::Mul, char('*')),
            value(BinaryOp::Div, char('/')),
            value(BinaryOp::Rem, char('%')),
        ))(i)
    })(input)
}

fn additive(input: &str) -> Res<'_, Expr> {
    level(term, |i| {
        alt((
            value(BinaryOp::Add, char('+')),
            value(BinaryOp::Sub, char('-')),
        ))(i)
    })(input)
}

fn comparison(input: &str) -> Res<'_, Expr> {
    level(additive, |i| {
        alt((
            value(BinaryOp::Le, tag("<=")),
            value(BinaryOp::Ge, tag(">=")),
            value(BinaryOp::Lt, char('<')),
            value(BinaryOp::Gt, char('>')),
        ))(i)
    })(input)
}

fn equality(input: &str) -> Res<'_, Expr> {
    level(comparison, |i| {
        alt((
            value(BinaryOp::Eq, tag("==")),
            value(BinaryOp::Ne, tag("!=")),
        ))(i)
    })(input)
}

fn and(input: &str) -> Res<'_, Expr> {
    level(equality, |i| {
        value(BinaryOp::And, alt((tag("&&"), keyword("and"))))(i)
    })(input)
}

fn or(input: &str) -> Res<'_, Expr> {
    level(and, |i| {
        value(BinaryOp::Or, alt((tag("||"), keyword("or"))))(i)
    })(input)
}

fn elvis(input: &str) -> Res<'_, Expr> {
    let (rest, first) = or(input)?;
    let (rest, tail) = many0(preceded(ws(tag("?:")), or))(rest)?;
    Ok((
        rest,
        tail.into_iter().fold(first, |value, fallback| Expr::Elvis {
            value: Box::new(value),
            fallback: Box::new(fallback),
        }),
    ))
}

fn ternary(input: &str) -> Res<'_, Expr> {
    let (rest, condition) = elvis(input)?;
    let (rest, branches) = opt(pair(
        preceded(ws(char('?')), expr),
        preceded(ws(char(':')), expr),
    ))(rest)?;
    Ok((
        rest,
        match branches {
            Some((then, otherwise)) => Expr::Ternary {
                condition: Box::new(condition),
                then: Box::new(then),
                otherwise: Box::new(otherwise),
            },
            None => condition,
        },
    ))
}

pub fn expr(input: &str) -> Res<'_, Expr> {
    ternary(input)
}

/// Parses a whole expression (the text between `${` and `}`).
pub fn parse(text: &str) -> Result<Expr, String> {
    match terminated(expr, multispace0)(text) {
        Ok(("", e)) => Ok(e),
        Ok((rest, _)) => Err(format!(
            "unexpected text at '{}'",
            rest.chars().take(20).collect::<String>()
        )),
        Err(_) => Err("not a valid expression".to_owned()),
    }
}
