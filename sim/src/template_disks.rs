//! A template's `other_config:disks` document, parsed as XML the way xapi reads it
//! (xapi_templates.ml: `Xml.parse_string`, then `disks_of_xml` and `disk_of_xml`): any XML
//! declaration, comments and whitespace between elements are fine; the root is a `<provision>`
//! without attributes whose children are `<disk/>` elements without content, each with
//! `device`, `size`, `sr` and `bootable` attributes and an optional `type`.

use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};

/// One `<disk …/>` of a template's `disks` key.
#[derive(Debug, PartialEq)]
pub(crate) struct Disk {
    pub device: String,
    pub size: i64,
    /// The UUID of the SR to make the disk in.
    pub sr: String,
    pub bootable: bool,
    /// The VDI type: `system`, `user`, `ephemeral`, `suspend` or `crashdump`.
    pub ty: String,
}

/// The disks of a `<provision>` document; `Err` says what is wrong with it.
pub(crate) fn parse(xml: &str) -> Result<Vec<Disk>, String> {
    let mut reader = Reader::from_str(xml);
    reader.config_mut().trim_text(true);
    let mut disks = Vec::new();
    let mut inside = false;
    let mut seen_root = false;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("not well-formed XML: {e}"))?;
        match event {
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
            Event::Start(e) | Event::Empty(e) if !inside && seen_root => {
                let name = e.name().as_ref().to_owned();
                return Err(format!("<{name}> after the root element"));
            }
            Event::Start(e) if !inside => {
                root(&e)?;
                (seen_root, inside) = (true, true);
            }
            Event::Empty(e) if !inside => {
                root(&e)?;
                seen_root = true;
            }
            Event::Empty(e) if inside && e.name().as_ref() == "disk" => disks.push(disk(&e)?),
            Event::Start(e) if inside && e.name().as_ref() == "disk" => {
                return Err("a <disk> element has content".to_owned())
            }
            Event::End(_) if inside => inside = false,
            Event::Eof if seen_root && !inside => return Ok(disks),
            Event::Eof => return Err("the document ends before its <provision> does".to_owned()),
            _ => return Err("something other than <disk/> elements inside <provision>".to_owned()),
        }
    }
}

fn root(e: &BytesStart<'_>) -> Result<(), String> {
    if e.name().as_ref() != "provision" || e.attributes().next().is_some() {
        return Err("the root element is not a <provision> without attributes".to_owned());
    }
    Ok(())
}

fn disk(e: &BytesStart<'_>) -> Result<Disk, String> {
    let mut attrs = Vec::new();
    for a in e.attributes() {
        let a = a.map_err(|err| format!("a <disk> attribute is malformed: {err}"))?;
        let value = a
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|err| format!("a <disk> attribute is malformed: {err}"))?;
        attrs.push((a.key.as_ref().to_owned(), value.into_owned()));
    }
    let get = |name: &str| {
        attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| format!("a <disk> has no {name} attribute"))
    };
    let size = get("size")?;
    // xapi: an unknown or missing type is a system disk (`try string2vdi_type … with _`).
    let ty = get("type")
        .ok()
        .filter(|t| {
            matches!(
                t.as_str(),
                "system" | "user" | "ephemeral" | "suspend" | "crashdump"
            )
        })
        .unwrap_or_else(|| "system".to_owned());
    Ok(Disk {
        device: get("device")?,
        size: size
            .parse()
            .map_err(|_| format!("a <disk> size is not a number: {size:?}"))?,
        sr: get("sr")?,
        bootable: get("bootable")? == "true",
        ty,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_pretty_printed_document_with_a_declaration() {
        let xml = "<?xml version=\"1.0\" ?>\n<provision>\n  <!-- the root disk -->\n  \
                   <disk device=\"0\" size=\"8589934592\" sr=\"abc\" bootable=\"true\" \
                   type=\"system\"/>\n  <disk device=\"1\" size=\"1024\" sr=\"\" \
                   bootable=\"false\" type=\"odd\"/>\n</provision>\n";
        let disks = parse(xml).unwrap();
        assert_eq!(
            disks,
            vec![
                Disk {
                    device: "0".into(),
                    size: 8589934592,
                    sr: "abc".into(),
                    bootable: true,
                    ty: "system".into()
                },
                Disk {
                    device: "1".into(),
                    size: 1024,
                    sr: String::new(),
                    bootable: false,
                    ty: "system".into()
                },
            ]
        );
        assert_eq!(parse("<provision/>").unwrap(), vec![]);
    }

    #[test]
    fn refuses_what_xapi_refuses() {
        let bad = [
            "<provision>",
            "<provision><disk device=\"0\"/></provision>",
            "<provision x=\"1\"></provision>",
            "<other/>",
            "<provision>text</provision>",
            "<provision><disk device=\"0\" size=\"1\" sr=\"\" bootable=\"true\"></disk></provision>",
            "<provision><disk device=\"0\" size=\"big\" sr=\"\" bootable=\"true\"/></provision>",
            "<provision/><provision/>",
            "",
        ];
        for xml in bad {
            assert!(parse(xml).is_err(), "{xml:?} should be refused");
        }
    }
}
