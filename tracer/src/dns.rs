//! DNS questions from the packets a traced process sends to a name server.
//!
//! The tracer sees the bytes a process hands to `sendto`, `sendmsg` or `sendmmsg` for a
//! socket aimed at port 53. This module decodes the questions in them with
//! `hickory-proto`'s wire-format decoder. Only the 12-byte header and the question section
//! are parsed, so a payload cut short after the questions (the tracer reads only the first
//! bytes of large sends) still decodes, and nothing after the questions (EDNS options,
//! say) can make it fail.
//!
//! Anything that is not a well-formed standard query (a response, an update, a truncated
//! name, random bytes) yields no question: decoding never panics and never guesses.
//!
//! ```
//! use nono_tracer::dns;
//!
//! // A query for example.com/A, as a resolver sends it over UDP.
//! let packet = [
//!     0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // header
//!     7, b'e', b'x', b'a', b'm', b'p', b'l', b'e', 3, b'c', b'o', b'm', 0, // name
//!     0x00, 0x01, 0x00, 0x01, // type A, class IN
//! ];
//! let questions = dns::decode_questions(&packet);
//! assert_eq!(questions[0].name, "example.com");
//! assert_eq!(questions[0].qtype, "A");
//! ```

use hickory_proto::op::{Header, MessageType, OpCode, Query};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};

/// The well-known DNS port.
pub const DNS_PORT: u16 = 53;

/// At most this many questions are taken from one message; real resolvers send one.
const MAX_QUESTIONS: u16 = 8;

/// One question of a DNS query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    /// The name, without the trailing dot (`example.com`; the root is `.`), in its ASCII
    /// (punycode) form.
    pub name: String,
    /// The record type, e.g. `A`, `AAAA`, `HTTPS`, or `Unknown(n)`-style text for types
    /// the decoder does not know.
    pub qtype: String,
}

/// Decodes the questions of a DNS query in UDP framing (the message itself).
///
/// Returns nothing for responses, non-QUERY opcodes and malformed packets.
pub fn decode_questions(message: &[u8]) -> Vec<Question> {
    let mut decoder = BinDecoder::new(message);
    let Ok(header) = Header::read(&mut decoder) else {
        return Vec::new();
    };
    if header.message_type() != MessageType::Query || header.op_code() != OpCode::Query {
        return Vec::new();
    }
    let mut questions = Vec::new();
    for _ in 0..header.query_count().min(MAX_QUESTIONS) {
        let Ok(query) = Query::read(&mut decoder) else {
            // A question cut short or malformed: report nothing rather than part of it.
            return Vec::new();
        };
        let mut name = query.name().to_ascii();
        if name.len() > 1 && name.ends_with('.') {
            name.pop();
        }
        questions.push(Question {
            name,
            qtype: query.query_type().to_string(),
        });
    }
    questions
}

/// Decodes the questions of a DNS query sent over TCP: the message preceded by its
/// length as a big-endian `u16`.
pub fn decode_tcp_questions(stream: &[u8]) -> Vec<Question> {
    match stream {
        [hi, lo, message @ ..] if usize::from(u16::from_be_bytes([*hi, *lo])) >= 12 => {
            decode_questions(message)
        }
        _ => Vec::new(),
    }
}

/// Decodes a payload sent to port 53 whose transport is unknown (the tracer does not know
/// whether a connected socket is a stream or a datagram socket).
///
/// When the first two bytes are exactly the length of the rest, as in a whole TCP-framed
/// message, the TCP framing is tried first; otherwise, or when that yields nothing, the
/// payload is decoded as a UDP message. A UDP query whose random ID happens to equal its
/// length minus two is still decoded correctly, because the shifted decode fails.
pub fn decode_any(payload: &[u8]) -> Vec<Question> {
    if let [hi, lo, rest @ ..] = payload {
        if usize::from(u16::from_be_bytes([*hi, *lo])) == rest.len() {
            let questions = decode_tcp_questions(payload);
            if !questions.is_empty() {
                return questions;
            }
        }
    }
    decode_questions(payload)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::{Message, MessageType, Query};
    use hickory_proto::rr::{Name, RecordType};

    fn query(id: u16, name: &str, qtype: RecordType) -> Vec<u8> {
        let mut message = Message::new();
        message
            .set_id(id)
            .set_message_type(MessageType::Query)
            .set_recursion_desired(true)
            .add_query(Query::query(
                Name::from_ascii(name).expect("valid name"),
                qtype,
            ));
        message.to_vec().expect("encode query")
    }

    fn q(name: &str, qtype: &str) -> Question {
        Question {
            name: name.to_owned(),
            qtype: qtype.to_owned(),
        }
    }

    #[test]
    fn a_and_aaaa_queries() {
        assert_eq!(
            decode_questions(&query(1, "example.com.", RecordType::A)),
            vec![q("example.com", "A")],
            "A query"
        );
        assert_eq!(
            decode_questions(&query(2, "api.github.com", RecordType::AAAA)),
            vec![q("api.github.com", "AAAA")],
            "AAAA query for a name without the trailing dot"
        );
        assert_eq!(
            decode_any(&query(3, "pypi.org.", RecordType::HTTPS)),
            vec![q("pypi.org", "HTTPS")],
            "HTTPS query through decode_any"
        );
    }

    #[test]
    fn tcp_framing() {
        let message = query(7, "crates.io.", RecordType::AAAA);
        let mut stream = (message.len() as u16).to_be_bytes().to_vec();
        stream.extend_from_slice(&message);
        assert_eq!(
            decode_tcp_questions(&stream),
            vec![q("crates.io", "AAAA")],
            "TCP framed"
        );
        assert_eq!(
            decode_any(&stream),
            vec![q("crates.io", "AAAA")],
            "decode_any recognises TCP framing"
        );
    }

    #[test]
    fn udp_query_whose_id_looks_like_a_length() {
        let probe = query(0, "example.org.", RecordType::A);
        // Choose the ID so that the first two bytes equal the remaining length.
        let id = (probe.len() - 2) as u16;
        let message = query(id, "example.org.", RecordType::A);
        assert_eq!(
            decode_any(&message),
            vec![q("example.org", "A")],
            "a UDP query whose ID equals len-2 must still decode"
        );
    }

    #[test]
    fn truncated_after_the_question_still_decodes() {
        let mut message = Message::new();
        message.add_query(Query::query(
            Name::from_ascii("example.net.").expect("name"),
            RecordType::A,
        ));
        let mut edns = hickory_proto::op::Edns::new();
        edns.set_max_payload(1232);
        message.set_edns(edns);
        let bytes = message.to_vec().expect("encode");
        let question_end = 12 + "example.net".len() + 2 + 4;
        assert!(bytes.len() > question_end, "the EDNS record follows");
        assert_eq!(
            decode_questions(&bytes[..question_end + 3]),
            vec![q("example.net", "A")],
            "bytes after the question are not needed"
        );
    }

    #[test]
    fn malformed_packets_yield_nothing() {
        let good = query(9, "example.com.", RecordType::A);
        for len in 0..good.len() {
            assert!(
                decode_questions(&good[..len]).is_empty(),
                "a query cut at {len} bytes must decode to nothing"
            );
        }
        assert!(decode_questions(b"hello world, not dns").is_empty(), "text");
        assert!(decode_any(&[0xff; 600]).is_empty(), "0xff bytes");
        // A label length pointing past the end.
        let mut bad = good.clone();
        bad[12] = 60;
        assert!(decode_questions(&bad).is_empty(), "overlong label");
        // A compression pointer to itself.
        let mut looped = good[..12].to_vec();
        looped.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
        assert!(decode_questions(&looped).is_empty(), "pointer loop");
    }

    #[test]
    fn responses_are_not_questions() {
        let mut message = Message::new();
        message
            .set_message_type(MessageType::Response)
            .add_query(Query::query(
                Name::from_ascii("example.com.").expect("name"),
                RecordType::A,
            ));
        let bytes = message.to_vec().expect("encode");
        assert!(decode_questions(&bytes).is_empty(), "a response is ignored");
    }
}
