//! Image references and whether a live service runs the image the file names.
//!
//! `docker stack deploy` resolves the file's `name[:tag]` and writes
//! `name:tag@sha256:…` into the service spec (an untagged name gets `:latest`),
//! keeping the file's text in the `com.docker.stack.image` label. A `service
//! update --image` (kroll's) does not touch that label.

/// The service label holding the image text of the stack file at deploy time.
pub const STACK_IMAGE_LABEL: &str = "com.docker.stack.image";

/// An image reference split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// Repository name in its short form (`docker.io/library/` removed).
    pub name: String,
    /// `:tag`, if written.
    pub tag: Option<String>,
    /// `@sha256:…`, if written.
    pub digest: Option<String>,
}

impl ImageRef {
    /// Splits `name[:tag][@digest]`; `None` for an empty name.
    pub fn parse(text: &str) -> Option<Self> {
        let (rest, digest) = match text.split_once('@') {
            Some((rest, digest)) => (rest, Some(digest.to_owned())),
            None => (text, None),
        };
        let slash = rest.rfind('/').map_or(0, |at| at + 1);
        let (name, tag) = match rest[slash..].rfind(':') {
            Some(at) => (&rest[..slash + at], Some(rest[slash + at + 1..].to_owned())),
            None => (rest, None),
        };
        let name = name
            .strip_prefix("docker.io/")
            .or_else(|| name.strip_prefix("index.docker.io/"))
            .unwrap_or(name);
        let name = name.strip_prefix("library/").unwrap_or(name);
        (!name.is_empty()).then(|| Self {
            name: name.to_owned(),
            tag,
            digest,
        })
    }
}

/// Whether a live service's image is the file's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageMatch {
    /// Same repository and the same tag or digest.
    Same,
    /// A different repository, tag or digest.
    Different,
    /// The live spec names only a digest and the file only a tag, and the stack
    /// label does not vouch for it: only the registry could tell.
    Unverifiable,
}

/// Compares the file's (interpolated) image with a live service's image and its
/// `com.docker.stack.image` label.
pub fn compare_images(file: &str, live: &str, stack_label: Option<&str>) -> ImageMatch {
    let (Some(want), Some(have)) = (ImageRef::parse(file), ImageRef::parse(live)) else {
        return ImageMatch::Different;
    };
    if want.name != have.name {
        return ImageMatch::Different;
    }
    if let (Some(a), Some(b)) = (&want.tag, &have.tag)
        && a != b
    {
        return ImageMatch::Different;
    }
    if let Some(digest) = &want.digest {
        return if have.digest.as_ref() == Some(digest) {
            ImageMatch::Same
        } else {
            ImageMatch::Different
        };
    }
    let want_tag = want.tag.as_deref().unwrap_or("latest");
    match (&have.tag, &have.digest) {
        (Some(tag), _) if tag == want_tag => ImageMatch::Same,
        (Some(_), _) => ImageMatch::Different,
        (None, None) if want_tag == "latest" => ImageMatch::Same,
        (None, None) => ImageMatch::Different,
        (None, Some(_)) if stack_label == Some(file) => ImageMatch::Same,
        (None, Some(_)) => ImageMatch::Unverifiable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D1: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    const D2: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

    #[test]
    fn references_split_into_name_tag_and_digest() {
        let table: &[(&str, &str, Option<&str>, Option<&str>)] = &[
            ("kafka", "kafka", None, None),
            (
                "docker.io/library/kafka:7.7.1",
                "kafka",
                Some("7.7.1"),
                None,
            ),
            (
                "reg.example:5000/bi/kafka",
                "reg.example:5000/bi/kafka",
                None,
                None,
            ),
            (
                "reg.example:5000/bi/kafka:7.1.1",
                "reg.example:5000/bi/kafka",
                Some("7.1.1"),
                None,
            ),
            (&*format!("reg/kafka@{D1}"), "reg/kafka", None, Some(D1)),
            (
                &*format!("reg/kafka:7.7.1@{D1}"),
                "reg/kafka",
                Some("7.7.1"),
                Some(D1),
            ),
        ];
        for (text, name, tag, digest) in table {
            let image = ImageRef::parse(text).expect("parses");
            assert_eq!(image.name, *name, "{text}");
            assert_eq!(image.tag.as_deref(), *tag, "{text}");
            assert_eq!(image.digest.as_deref(), *digest, "{text}");
        }
        assert_eq!(ImageRef::parse(""), None);
    }

    #[test]
    fn live_images_with_added_digests_match_their_file_text() {
        use ImageMatch::*;
        let at = |s: &str| format!("{s}@{D1}");
        let table: Vec<(String, String, Option<&str>, ImageMatch)> = vec![
            // The CLI adds `:latest` and the digest to an untagged file image.
            ("reg/kafka".into(), at("reg/kafka:latest"), None, Same),
            ("reg/kafka".into(), "reg/kafka".into(), None, Same),
            ("reg/kafka".into(), "reg/kafka:latest".into(), None, Same),
            ("reg/kafka:7.1.1".into(), at("reg/kafka:7.1.1"), None, Same),
            (
                "reg/kafka:7.1.1".into(),
                at("reg/kafka:7.7.1"),
                None,
                Different,
            ),
            (
                "reg/kafka:7.1.1".into(),
                "reg/kafka:7.7.1".into(),
                None,
                Different,
            ),
            ("reg/kafka".into(), at("reg/kafka:7.7.1"), None, Different),
            (
                "reg/kafka".into(),
                at("reg/connect:latest"),
                None,
                Different,
            ),
            (at("reg/kafka"), at("reg/kafka:latest"), None, Same),
            (at("reg/kafka:7.7.1"), at("reg/kafka:7.7.1"), None, Same),
            (
                at("reg/kafka"),
                format!("reg/kafka:latest@{D2}"),
                None,
                Different,
            ),
            (at("reg/kafka"), "reg/kafka:latest".into(), None, Different),
            // Digest only in the live spec: the stack label decides.
            (
                "reg/kafka:7.7.1".into(),
                at("reg/kafka"),
                None,
                Unverifiable,
            ),
            (
                "reg/kafka:7.7.1".into(),
                at("reg/kafka"),
                Some("reg/kafka:7.7.1"),
                Same,
            ),
            (
                "reg/kafka:7.7.1".into(),
                at("reg/kafka"),
                Some("reg/kafka:7.1.1"),
                Unverifiable,
            ),
            (
                "kafka:3".into(),
                at("docker.io/library/kafka:3"),
                None,
                Same,
            ),
        ];
        for (file, live, label, want) in table {
            assert_eq!(
                compare_images(&file, &live, label),
                want,
                "{file} vs {live} ({label:?})"
            );
        }
    }
}
