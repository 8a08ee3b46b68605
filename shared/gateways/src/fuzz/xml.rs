//! XML documents as the SOAP bodies are made, and structure-aware mutations of them.

use super::generators::nasty_text;
use proptest::prelude::*;
use proptest::sample::{Index, select};

/// An XML document as a list of `(element, raw content)` under one root.
#[derive(Debug, Clone)]
pub(super) struct Xml {
    /// The elements that wrap the fields, outermost first, e.g. `soap:Envelope`.
    pub(super) wrappers: Vec<String>,
    pub(super) fields: Vec<(String, String)>,
}

pub(super) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

impl Xml {
    pub(super) fn render(&self) -> String {
        let mut out = String::new();
        for wrapper in &self.wrappers {
            out.push_str(&format!("<{wrapper}>"));
        }
        for (name, content) in &self.fields {
            out.push_str(&format!("<{name}>{content}</{name}>"));
        }
        for wrapper in self.wrappers.iter().rev() {
            let name = wrapper.split_whitespace().next().unwrap_or_default();
            out.push_str(&format!("</{name}>"));
        }
        out
    }
}

/// One change to an XML document's elements, or to its text.
#[derive(Debug, Clone)]
enum XmlEdit {
    Remove(Index),
    Repeat(Index),
    /// Other text, escaped or written raw (so it may be markup).
    Text(Index, String, bool),
    Rename(Index, String),
    Insert(Index, String, String),
    /// The content buried under `depth` elements.
    Nest(Index, usize),
    /// A wrapper dropped, or another prefix for one.
    Unwrap(Index),
    InsertText(Index, String),
    Truncate(Index),
    /// A declaration, a DOCTYPE with entities, a byte order mark, a comment.
    Prolog(&'static str),
}

const XML_FIELDS: [&str; 17] = [
    "p:EventId",
    "p:Type",
    "p:TransactionId",
    "p:PayoutId",
    "p:RefundId",
    "p:Reference",
    "p:Amount",
    "p:Currency",
    "p:ReasonCode",
    "p:Status",
    "faultcode",
    "faultstring",
    "detail",
    "EventId",
    "x:Amount",
    "Amount",
    "soap:Body",
];

fn xml_edit() -> impl Strategy<Value = XmlEdit> {
    let name = prop_oneof![
        3 => select(XML_FIELDS.to_vec()).prop_map(str::to_owned),
        1 => "[A-Za-z_][A-Za-z0-9_.:-]{0,12}",
        1 => nasty_text(),
    ];
    prop_oneof![
        any::<Index>().prop_map(XmlEdit::Remove),
        any::<Index>().prop_map(XmlEdit::Repeat),
        (any::<Index>(), nasty_text(), any::<bool>())
            .prop_map(|(at, t, raw)| XmlEdit::Text(at, t, raw)),
        (any::<Index>(), name.clone()).prop_map(|(at, n)| XmlEdit::Rename(at, n)),
        (any::<Index>(), name, nasty_text()).prop_map(|(at, n, t)| XmlEdit::Insert(
            at,
            n,
            escape(&t)
        )),
        (any::<Index>(), prop_oneof![1usize..64, Just(5_000)])
            .prop_map(|(at, d)| XmlEdit::Nest(at, d)),
        any::<Index>().prop_map(XmlEdit::Unwrap),
        (any::<Index>(), nasty_text()).prop_map(|(at, t)| XmlEdit::InsertText(at, t)),
        any::<Index>().prop_map(XmlEdit::Truncate),
        select(vec![
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>",
            "<?xml version=\"1.0\" encoding=\"latin1\"?>",
            "\u{FEFF}",
            "<!-- c -->",
            "<!DOCTYPE n [<!ENTITY e \"x\"><!ENTITY f \"&e;&e;&e;&e;\">]>",
            "<!DOCTYPE n SYSTEM \"file:///etc/passwd\">",
        ])
        .prop_map(XmlEdit::Prolog),
    ]
}

/// `xml` changed by one to four edits.
pub(super) fn mutated_xml(xml: Xml) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(xml_edit(), 1..5).prop_map(move |edits| {
        let mut xml = xml.clone();
        let mut text_edits = Vec::new();
        for edit in edits {
            let len = xml.fields.len();
            let at = |i: Index| i.index(len.max(1)).min(len.saturating_sub(1));
            match edit {
                XmlEdit::Remove(i) if len > 0 => {
                    xml.fields.remove(at(i));
                }
                XmlEdit::Repeat(i) if len > 0 => {
                    let field = xml.fields[at(i)].clone();
                    xml.fields.push(field);
                }
                XmlEdit::Text(i, text, raw) if len > 0 => {
                    xml.fields[at(i)].1 = if raw { text } else { escape(&text) };
                }
                XmlEdit::Rename(i, name) if len > 0 => xml.fields[at(i)].0 = name,
                XmlEdit::Insert(i, name, text) => {
                    xml.fields.insert(i.index(len + 1), (name, text));
                }
                XmlEdit::Nest(i, depth) if len > 0 => {
                    let content = &mut xml.fields[at(i)].1;
                    *content = format!("{}{content}{}", "<x>".repeat(depth), "</x>".repeat(depth));
                }
                XmlEdit::Unwrap(i) if !xml.wrappers.is_empty() => {
                    xml.wrappers.remove(i.index(xml.wrappers.len()));
                }
                other => text_edits.push(other),
            }
        }
        let mut text = xml.render();
        for edit in text_edits {
            match edit {
                XmlEdit::InsertText(i, insert) => {
                    let mut at = i.index(text.len() + 1);
                    while !text.is_char_boundary(at) {
                        at -= 1;
                    }
                    text.insert_str(at, &insert);
                }
                XmlEdit::Truncate(i) => {
                    let mut at = i.index(text.len() + 1);
                    while !text.is_char_boundary(at) {
                        at -= 1;
                    }
                    text.truncate(at);
                }
                XmlEdit::Prolog(prolog) => text.insert_str(0, prolog),
                _ => {}
            }
        }
        text.into_bytes()
    })
}
