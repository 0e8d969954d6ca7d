//! Reads a `multipart/form-data` body (with `multer`) under a form's
//! limits: declared parts only, each once, text parts small and UTF-8, file
//! parts and the whole body bounded. What a part means is the domain's.

use std::collections::BTreeMap;

use bytes::Bytes;
use multer::{Constraints, Multipart, SizeLimit};

/// The parts a form accepts and its size limits.
#[derive(Debug, Clone, Copy)]
pub struct FormSpec {
    pub text_parts: &'static [&'static str],
    pub file_parts: &'static [&'static str],
    pub max_text_bytes: u64,
    pub max_file_bytes: u64,
    pub max_body_bytes: usize,
}

/// A well-formed form: each text part once as text, each file part once.
#[derive(Debug, Default)]
pub struct Form {
    pub text: BTreeMap<&'static str, String>,
    pub files: Vec<(&'static str, Bytes)>,
}

/// Why the body is not an acceptable form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    #[error("the body is not multipart/form-data")]
    NotMultipart,
    #[error("the body is too large")]
    BodyTooLarge,
    #[error("part {0} is too large")]
    PartTooLarge(&'static str),
    #[error("unexpected part")]
    UnknownPart,
    #[error("part {0} appears more than once")]
    Repeated(&'static str),
    #[error("part {0} is not UTF-8 text")]
    NotText(&'static str),
    #[error("the multipart body is malformed")]
    Malformed,
}

/// Parses `body` sent with `content_type` as a form of `spec`.
pub async fn parse_form(
    spec: &FormSpec,
    content_type: &str,
    body: Bytes,
) -> Result<Form, FormError> {
    let boundary = multer::parse_boundary(content_type).map_err(|_| FormError::NotMultipart)?;
    if body.len() > spec.max_body_bytes {
        return Err(FormError::BodyTooLarge);
    }
    let allowed: Vec<&str> = spec.parts().collect();
    let mut limits = SizeLimit::new()
        .whole_stream(spec.max_body_bytes as u64)
        .per_field(spec.max_file_bytes);
    for field in spec.text_parts {
        limits = limits.for_field(*field, spec.max_text_bytes);
    }
    let constraints = Constraints::new()
        .allowed_fields(allowed)
        .size_limit(limits);
    let stream =
        futures_util::stream::once(async move { Ok::<Bytes, std::convert::Infallible>(body) });
    let mut multipart = Multipart::with_constraints(stream, boundary, constraints);
    let mut form = Form::default();
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| spec.form_error(e))?
    {
        let name = spec.known(field.name()).ok_or(FormError::UnknownPart)?;
        let content = field.bytes().await.map_err(|e| spec.form_error(e))?;
        if spec.file_parts.contains(&name) {
            if form.files.iter().any(|(n, _)| *n == name) {
                return Err(FormError::Repeated(name));
            }
            form.files.push((name, content));
        } else {
            if form.text.contains_key(name) {
                return Err(FormError::Repeated(name));
            }
            let text = String::from_utf8(content.to_vec()).map_err(|_| FormError::NotText(name))?;
            form.text.insert(name, text);
        }
    }
    Ok(form)
}

impl FormSpec {
    fn parts(&self) -> impl Iterator<Item = &'static str> {
        self.text_parts
            .iter()
            .chain(self.file_parts.iter())
            .copied()
    }

    /// The static name of a declared part.
    fn known(&self, name: Option<&str>) -> Option<&'static str> {
        let name = name?;
        self.parts().find(|known| *known == name)
    }

    fn form_error(&self, err: multer::Error) -> FormError {
        match err {
            multer::Error::UnknownField { .. } => FormError::UnknownPart,
            multer::Error::FieldSizeExceeded { field_name, .. } => {
                FormError::PartTooLarge(self.known(field_name.as_deref()).unwrap_or("part"))
            }
            multer::Error::StreamSizeExceeded { .. } => FormError::BodyTooLarge,
            _ => FormError::Malformed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: FormSpec = FormSpec {
        text_parts: &["name"],
        file_parts: &["photo"],
        max_text_bytes: 8,
        max_file_bytes: 16,
        max_body_bytes: 1024,
    };
    const TYPE: &str = "multipart/form-data; boundary=X";

    fn body(parts: &[(&str, &[u8])]) -> Bytes {
        let mut out = Vec::new();
        for (name, content) in parts {
            out.extend_from_slice(
                format!("--X\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n")
                    .as_bytes(),
            );
            out.extend_from_slice(content);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"--X--\r\n");
        Bytes::from(out)
    }

    async fn parse(parts: &[(&str, &[u8])]) -> Result<Form, FormError> {
        parse_form(&SPEC, TYPE, body(parts)).await
    }

    #[tokio::test]
    async fn declared_parts_are_read_once_each() {
        let form = parse(&[("name", b"ada"), ("photo", b"\x89PNG")])
            .await
            .unwrap();
        assert_eq!(form.text["name"], "ada");
        assert_eq!(form.files, vec![("photo", Bytes::from_static(b"\x89PNG"))]);
    }

    #[tokio::test]
    async fn undeclared_repeated_oversized_and_binary_parts_are_refused() {
        assert_eq!(
            parse(&[("role", b"admin")]).await.unwrap_err(),
            FormError::UnknownPart
        );
        assert_eq!(
            parse(&[("photo", b"a"), ("photo", b"b")])
                .await
                .unwrap_err(),
            FormError::Repeated("photo")
        );
        assert_eq!(
            parse(&[("name", b"a-name-too-long")]).await.unwrap_err(),
            FormError::PartTooLarge("name")
        );
        assert_eq!(
            parse(&[("photo", &[0u8; 17])]).await.unwrap_err(),
            FormError::PartTooLarge("photo")
        );
        assert_eq!(
            parse(&[("name", &[0xff, 0xfe])]).await.unwrap_err(),
            FormError::NotText("name")
        );
    }

    #[tokio::test]
    async fn bodies_that_are_not_forms_or_too_large_are_refused() {
        let form = body(&[("name", b"ada")]);
        assert_eq!(
            parse_form(&SPEC, "application/json", form)
                .await
                .unwrap_err(),
            FormError::NotMultipart
        );
        let big = Bytes::from(vec![b'-'; 1025]);
        assert_eq!(
            parse_form(&SPEC, TYPE, big).await.unwrap_err(),
            FormError::BodyTooLarge
        );
        assert_eq!(
            parse_form(&SPEC, TYPE, Bytes::from_static(b"--X\r\nnot a part"))
                .await
                .unwrap_err(),
            FormError::Malformed
        );
    }
}
