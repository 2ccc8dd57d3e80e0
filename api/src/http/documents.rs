//! Parsed GraphQL documents kept by their text, so that a client sending
//! the same document again (every dashboard, every portal page) skips the
//! parser: async-graphql's is a PEG parser, and for a portal dashboard it
//! cost about as much CPU as one of its SQL statements. A request still
//! gets a document of its own (execution takes ownership and is given a
//! copy), and is validated as before; only the parsing is shared.
//!
//! Bounded: at most [`MAX_DOCUMENTS`] documents of at most
//! [`MAX_TEXT_BYTES`] bytes of text each; when full, the map starts afresh
//! (clients send a handful of distinct documents; one that sends a new
//! document each time costs a parse, as without the cache).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use async_graphql::parser::types::ExecutableDocument;

/// Most documents kept.
pub const MAX_DOCUMENTS: usize = 256;

/// Longest document text kept (longer ones are parsed each time).
pub const MAX_TEXT_BYTES: usize = 16 * 1024;

/// The process's parsed documents.
#[derive(Default)]
pub struct Documents {
    parsed: Mutex<HashMap<Arc<str>, Arc<ExecutableDocument>>>,
}

impl Documents {
    /// Gives `request` its parsed document: a copy of the kept one, or
    /// parsed now (and kept). Returns the document, shared, for what reads
    /// it after execution (the order pass); `None` when the text does not
    /// parse (execution then answers the parse error, as before).
    pub fn prepare(&self, request: &mut async_graphql::Request) -> Option<Arc<ExecutableDocument>> {
        let kept = self
            .parsed
            .lock()
            .ok()
            .and_then(|parsed| parsed.get(request.query.as_str()).cloned());
        if let Some(document) = kept {
            request.set_parsed_query((*document).clone());
            return Some(document);
        }
        let document = Arc::new(request.parsed_query().ok()?.clone());
        if request.query.len() <= MAX_TEXT_BYTES
            && let Ok(mut parsed) = self.parsed.lock()
        {
            if parsed.len() >= MAX_DOCUMENTS {
                parsed.clear();
            }
            parsed.insert(Arc::from(request.query.as_str()), document.clone());
        }
        Some(document)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_is_parsed_once_and_each_request_gets_its_own_copy() {
        let documents = Documents::default();
        let mut first = async_graphql::Request::new("{ viewer { __typename } }");
        let kept = documents.prepare(&mut first).expect("parses");
        let mut second = async_graphql::Request::new("{ viewer { __typename } }");
        let again = documents.prepare(&mut second).expect("kept");
        assert!(
            Arc::ptr_eq(&kept, &again),
            "the second request reuses the parsed document"
        );
        assert!(second.parsed_query().is_ok());
        let mut bad = async_graphql::Request::new("{ viewer ");
        assert!(documents.prepare(&mut bad).is_none());
        assert_eq!(
            documents.parsed.lock().expect("lock").len(),
            1,
            "what does not parse is not kept"
        );
    }

    #[test]
    fn the_map_stays_bounded() {
        let documents = Documents::default();
        for n in 0..(MAX_DOCUMENTS + 10) {
            let mut request = async_graphql::Request::new(format!("{{ a{n}: viewer {{ __typename }} }}"));
            documents.prepare(&mut request);
        }
        assert!(documents.parsed.lock().expect("lock").len() <= MAX_DOCUMENTS);
        let long = format!("{{ viewer {{ __typename }} }}{}", " ".repeat(MAX_TEXT_BYTES));
        let before = documents.parsed.lock().expect("lock").len();
        documents.prepare(&mut async_graphql::Request::new(long));
        assert_eq!(
            documents.parsed.lock().expect("lock").len(),
            before,
            "a long text is not kept"
        );
    }
}
