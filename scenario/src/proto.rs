//! Just enough of the Kubernetes protobuf encoding to read the request bodies clients send
//! as `application/vnd.kubernetes.protobuf` (kubectl posts SelfSubjectAccessReviews so).
//! Answers are always JSON: the clients accept it and decode by the response's type.

use serde_json::{Map, Value, json};

/// The 4-byte prefix of every Kubernetes protobuf body.
const MAGIC: &[u8] = b"k8s\0";

/// Fields of one protobuf message: (field number, length-delimited payload); other wire
/// types are skipped. None when the bytes are not a well-formed message.
fn fields(mut b: &[u8]) -> Option<Vec<(u64, &[u8])>> {
    let mut out = vec![];
    while !b.is_empty() {
        let tag = varint(&mut b)?;
        match tag & 7 {
            0 => {
                varint(&mut b)?;
            }
            1 => b = b.get(8..)?,
            2 => {
                let len = usize::try_from(varint(&mut b)?).ok()?;
                out.push((tag >> 3, b.get(..len)?));
                b = &b[len..];
            }
            5 => b = b.get(4..)?,
            _ => return None,
        }
    }
    Some(out)
}

fn varint(b: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = b.split_first()?;
        *b = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// String fields of a message, by number → JSON name.
fn strings(msg: &[u8], names: &[(u64, &str)]) -> Option<Map<String, Value>> {
    let mut out = Map::new();
    for (n, bytes) in fields(msg)? {
        if let Some((_, name)) = names.iter().find(|(f, _)| *f == n) {
            out.insert((*name).to_owned(), json!(String::from_utf8_lossy(bytes)));
        }
    }
    Some(out)
}

/// A protobuf-encoded `SelfSubjectAccessReview` (inside the `runtime.Unknown` envelope) as
/// the JSON object it stands for (spec only).
pub(crate) fn self_subject_access_review(body: &[u8]) -> Option<Value> {
    let unknown = body.strip_prefix(MAGIC)?;
    // runtime.Unknown: 1 typeMeta, 2 raw, 3 contentEncoding, 4 contentType.
    let raw = fields(unknown)?.into_iter().find(|(n, _)| *n == 2)?.1;
    // SelfSubjectAccessReview: 1 metadata, 2 spec, 3 status.
    let spec = fields(raw)?.into_iter().find(|(n, _)| *n == 2).map_or(&[][..], |(_, b)| b);
    let mut out = Map::new();
    for (n, bytes) in fields(spec)? {
        match n {
            1 => {
                let attrs = strings(
                    bytes,
                    &[(1, "namespace"), (2, "verb"), (3, "group"), (4, "version"), (5, "resource"), (6, "subresource"), (7, "name")],
                )?;
                out.insert("resourceAttributes".into(), Value::Object(attrs));
            }
            2 => {
                out.insert("nonResourceAttributes".into(), Value::Object(strings(bytes, &[(1, "path"), (2, "verb")])?));
            }
            _ => {}
        }
    }
    Some(json!({
        "kind": "SelfSubjectAccessReview",
        "apiVersion": "authorization.k8s.io/v1",
        "metadata": {},
        "spec": out,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(n: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![(n << 3) | 2, u8::try_from(payload.len()).unwrap()];
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn reads_a_review_as_kubectl_encodes_it() {
        let attrs = [field(1, b"orders"), field(2, b"list"), field(5, b"pods")].concat();
        let spec = field(1, &attrs);
        let review = [field(1, b""), field(2, &spec)].concat();
        let type_meta = [field(1, b"authorization.k8s.io/v1"), field(2, b"SelfSubjectAccessReview")].concat();
        let body = [MAGIC.to_vec(), field(1, &type_meta), field(2, &review), field(4, b"")].concat();
        let v = self_subject_access_review(&body).unwrap();
        assert_eq!(v["spec"]["resourceAttributes"], json!({"namespace": "orders", "verb": "list", "resource": "pods"}));
        assert!(self_subject_access_review(b"{\"kind\":1}").is_none());
        assert!(self_subject_access_review(b"k8s\0\x12\x7f").is_none());
    }
}
