//! Document file checks: the type comes from the bytes (never the declared
//! content type or name), files must be complete, and images must have sane
//! dimensions (no pixel floods).

use imagesize::ImageType;

/// Largest document file accepted.
pub const MAX_FILE_BYTES: usize = 5 * 1024 * 1024;
/// Largest image side, in pixels.
pub const MAX_SIDE: usize = 10_000;
/// Most pixels an image may have (40 megapixels).
pub const MAX_PIXELS: usize = 40_000_000;

/// Accepted document formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind {
    Jpeg,
    Png,
    Pdf,
}

impl DocumentKind {
    /// The content type stored with the object (decided by the server).
    pub fn content_type(self) -> &'static str {
        match self {
            DocumentKind::Jpeg => "image/jpeg",
            DocumentKind::Png => "image/png",
            DocumentKind::Pdf => "application/pdf",
        }
    }
}

/// Why a file was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FileProblem {
    #[error("the file is empty")]
    Empty,
    #[error("the file exceeds 5 MiB")]
    TooLarge,
    #[error("only JPEG, PNG and PDF files are accepted")]
    UnsupportedType,
    #[error("the file is truncated")]
    Truncated,
    #[error("the image dimensions are not acceptable")]
    BadDimensions,
}

const PNG_END: [u8; 8] = [0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82];

/// Decides what `bytes` are, or why they are refused.
pub fn inspect(bytes: &[u8]) -> Result<DocumentKind, FileProblem> {
    if bytes.is_empty() {
        return Err(FileProblem::Empty);
    }
    if bytes.len() > MAX_FILE_BYTES {
        return Err(FileProblem::TooLarge);
    }
    if bytes.starts_with(b"%PDF-") {
        let tail = &bytes[bytes.len().saturating_sub(1024)..];
        return if tail.windows(5).any(|w| w == b"%%EOF") {
            Ok(DocumentKind::Pdf)
        } else {
            Err(FileProblem::Truncated)
        };
    }
    let kind = match imagesize::image_type(bytes) {
        Ok(ImageType::Jpeg) => DocumentKind::Jpeg,
        Ok(ImageType::Png) => DocumentKind::Png,
        _ => return Err(FileProblem::UnsupportedType),
    };
    let complete = match kind {
        DocumentKind::Jpeg => bytes.ends_with(&[0xFF, 0xD9]),
        _ => bytes.ends_with(&PNG_END),
    };
    if !complete {
        return Err(FileProblem::Truncated);
    }
    let size = imagesize::blob_size(bytes).map_err(|_| FileProblem::Truncated)?;
    let sane = (1..=MAX_SIDE).contains(&size.width)
        && (1..=MAX_SIDE).contains(&size.height)
        && size.width.saturating_mul(size.height) <= MAX_PIXELS;
    if sane {
        Ok(kind)
    } else {
        Err(FileProblem::BadDimensions)
    }
}

/// Minimal well-formed document files, for tests and benchmarks (pure
/// functions; nothing in a function calls them).
pub mod samples {
    /// A PNG header with the given size and the closing IEND chunk.
    pub fn png(width: u32, height: u32) -> Vec<u8> {
        let mut bytes = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
        bytes.extend_from_slice(&13u32.to_be_bytes());
        bytes.extend_from_slice(b"IHDR");
        bytes.extend_from_slice(&width.to_be_bytes());
        bytes.extend_from_slice(&height.to_be_bytes());
        bytes.extend_from_slice(&[8, 2, 0, 0, 0]);
        bytes.extend_from_slice(&[0, 0, 0, 0]);
        bytes.extend_from_slice(&[0, 0, 0, 0]);
        bytes.extend_from_slice(&super::PNG_END);
        bytes
    }

    /// A baseline JPEG header (JFIF, SOF0) with the given size, and EOI.
    pub fn jpeg(width: u16, height: u16) -> Vec<u8> {
        let mut bytes = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10];
        bytes.extend_from_slice(b"JFIF\0");
        bytes.extend_from_slice(&[1, 1, 0, 0, 1, 0, 1, 0, 0]);
        bytes.extend_from_slice(&[0xFF, 0xC0, 0x00, 0x11, 0x08]);
        bytes.extend_from_slice(&height.to_be_bytes());
        bytes.extend_from_slice(&width.to_be_bytes());
        bytes.extend_from_slice(&[3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
        bytes.extend_from_slice(&[0xFF, 0xD9]);
        bytes
    }

    /// A PNG of `width` x `height` padded to `total` bytes with a private
    /// ancillary chunk (as large photos carry metadata).
    pub fn png_of_size(width: u32, height: u32, total: usize) -> Vec<u8> {
        let small = png(width, height);
        let padding = total.saturating_sub(small.len() + 12);
        let (head, tail) = small.split_at(small.len() - 12);
        let mut bytes = head.to_vec();
        bytes.extend_from_slice(&(padding as u32).to_be_bytes());
        bytes.extend_from_slice(b"prVt");
        bytes.extend((0..padding).map(|i| (i % 251) as u8));
        bytes.extend_from_slice(&[0, 0, 0, 0]);
        bytes.extend_from_slice(tail);
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::samples::{jpeg, png};
    use super::*;

    #[test]
    fn real_documents_are_recognised_by_their_bytes() {
        assert_eq!(inspect(&png(1200, 800)), Ok(DocumentKind::Png));
        assert_eq!(inspect(&jpeg(1200, 800)), Ok(DocumentKind::Jpeg));
        assert_eq!(
            inspect(b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF\n"),
            Ok(DocumentKind::Pdf)
        );
    }

    #[test]
    fn disguised_truncated_empty_and_oversized_files_are_refused() {
        assert_eq!(
            inspect(b"<html><script>alert(1)</script></html>"),
            Err(FileProblem::UnsupportedType)
        );
        assert_eq!(
            inspect(b"GIF89a\x01\x00\x01\x00"),
            Err(FileProblem::UnsupportedType)
        );
        let png_bytes = png(100, 100);
        assert_eq!(
            inspect(&png_bytes[..png_bytes.len() - 4]),
            Err(FileProblem::Truncated)
        );
        let jpeg_bytes = jpeg(100, 100);
        assert_eq!(
            inspect(&jpeg_bytes[..jpeg_bytes.len() - 2]),
            Err(FileProblem::Truncated)
        );
        assert_eq!(inspect(b"%PDF-1.7\n1 0 obj\n"), Err(FileProblem::Truncated));
        assert_eq!(inspect(b""), Err(FileProblem::Empty));
        let mut big = png(100, 100);
        big.resize(MAX_FILE_BYTES + 1, 0);
        assert_eq!(inspect(&big), Err(FileProblem::TooLarge));
    }

    #[test]
    fn pixel_floods_and_empty_images_are_refused() {
        assert_eq!(
            inspect(&png(50_000, 50_000)),
            Err(FileProblem::BadDimensions)
        );
        assert_eq!(
            inspect(&png(9_000, 9_000)),
            Err(FileProblem::BadDimensions),
            "81 MP"
        );
        assert_eq!(inspect(&png(0, 10)), Err(FileProblem::BadDimensions));
        assert_eq!(inspect(&jpeg(10_000, 4_000)), Ok(DocumentKind::Jpeg));
        assert_eq!(inspect(&jpeg(10_001, 10)), Err(FileProblem::BadDimensions));
    }
}
