//! A whole RRD, as `/host_rrd` and `/vm_rrd?uuid=` send it: rrdtool's dump format, as xapi's
//! `Rrd.xml_to_output` writes it (ocaml/libs/xapi-rrd/lib/rrd.ml): `<rrd><version/><step/>`
//! `<lastupdate/>`, a `<ds>` per data source, then an `<rra>` per archive with its `<cf>`,
//! `<pdp_per_row>`, `<params>`, `<cdp_prep>` and `<database>` of `<row><v>…</v></row>`, oldest row
//! first. Rows carry no time: a row's time follows from `lastupdate` and the archive's step.

use super::{parse_int, parse_number, xml, Consolidation, Row, RrdError};

/// A data source: what is measured, with its type (`GAUGE`, `ABSOLUTE`, `DERIVE`) and bounds.
#[derive(Debug, Clone, PartialEq)]
pub struct DataSource {
    pub name: String,
    pub kind: String,
    pub min: f64,
    pub max: f64,
}

/// One archive: rows of `pdp_per_row` consolidated steps, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Archive {
    pub cf: Consolidation,
    pub pdp_per_row: i64,
    /// Seconds a row covers: the RRD's step times `pdp_per_row`.
    pub step: i64,
    /// One value per data source in each row, in the order of [`Rrd::sources`].
    pub rows: Vec<Row>,
}

/// A host's or a VM's whole round-robin database.
#[derive(Debug, Clone, PartialEq)]
pub struct Rrd {
    /// Seconds between primary data points (5 on xapi).
    pub step: i64,
    pub last_update: i64,
    pub sources: Vec<DataSource>,
    pub archives: Vec<Archive>,
}

impl Rrd {
    /// Reads a dump (XML).
    pub fn parse(body: &[u8]) -> Result<Self, RrdError> {
        let text = std::str::from_utf8(body)
            .map_err(|e| RrdError::new(format!("the reply is not UTF-8 ({e})")))?;
        let mut r = xml::Reader::new(text);
        r.expect_start("rrd")?;
        let (mut step, mut last_update) = (None, None);
        let mut sources = Vec::new();
        let mut raw_archives = Vec::new();
        loop {
            match r.next()? {
                xml::Event::Start("step") => step = Some(parse_int(&r.text()?, "step")?),
                xml::Event::Start("lastupdate") => {
                    last_update = Some(parse_int(&r.text()?, "lastupdate")?)
                }
                xml::Event::Start("ds") => sources.push(data_source(&mut r)?),
                xml::Event::Start("rra") => raw_archives.push(archive(&mut r, sources.len())?),
                xml::Event::Start(_) => r.skip()?,
                xml::Event::End(_) => break,
                other => return Err(RrdError::new(format!("unexpected {other:?} in <rrd>"))),
            }
        }
        let step = step.ok_or_else(|| RrdError::new("<rrd> has no <step>"))?;
        let last_update = last_update.ok_or_else(|| RrdError::new("<rrd> has no <lastupdate>"))?;
        if step <= 0 {
            return Err(RrdError::new(format!("the step {step} is not positive")));
        }
        let archives = raw_archives
            .into_iter()
            .map(|(cf, pdp_per_row, values)| {
                let rstep = step.saturating_mul(pdp_per_row);
                // The newest row ends at the last whole archive step before the last update.
                let last = last_update - last_update.rem_euclid(rstep);
                let n = values.len() as i64;
                let rows = values
                    .into_iter()
                    .enumerate()
                    .rev()
                    .map(|(i, values)| Row {
                        time: last - (n - 1 - i as i64) * rstep,
                        values,
                    })
                    .collect();
                Archive {
                    cf,
                    pdp_per_row,
                    step: rstep,
                    rows,
                }
            })
            .collect();
        Ok(Rrd {
            step,
            last_update,
            sources,
            archives,
        })
    }

    /// The index of a data source by name.
    pub fn source(&self, name: &str) -> Option<usize> {
        self.sources.iter().position(|s| s.name == name)
    }

    /// The finest archive with this consolidation function (5-second rows for `Average`).
    pub fn finest(&self, cf: Consolidation) -> Option<&Archive> {
        self.archives
            .iter()
            .filter(|a| a.cf == cf)
            .min_by_key(|a| a.pdp_per_row)
    }
}

fn data_source(r: &mut xml::Reader<'_>) -> Result<DataSource, RrdError> {
    let (mut name, mut kind) = (None, None);
    let (mut min, mut max) = (f64::NEG_INFINITY, f64::INFINITY);
    loop {
        match r.next()? {
            xml::Event::Start("name") => name = Some(r.text()?.into_owned()),
            xml::Event::Start("type") => kind = Some(r.text()?.into_owned()),
            xml::Event::Start("min") => min = parse_number(&r.text()?)?,
            xml::Event::Start("max") => max = parse_number(&r.text()?)?,
            xml::Event::Start(_) => r.skip()?,
            xml::Event::End(_) => break,
            other => return Err(RrdError::new(format!("unexpected {other:?} in <ds>"))),
        }
    }
    Ok(DataSource {
        name: name.ok_or_else(|| RrdError::new("a <ds> has no <name>"))?,
        kind: kind.ok_or_else(|| RrdError::new("a <ds> has no <type>"))?,
        min,
        max,
    })
}

type RawArchive = (Consolidation, i64, Vec<Vec<f64>>);

fn archive(r: &mut xml::Reader<'_>, width: usize) -> Result<RawArchive, RrdError> {
    let (mut cf, mut pdp) = (None, None);
    let mut rows = Vec::new();
    loop {
        match r.next()? {
            xml::Event::Start("cf") => {
                let t = r.text()?;
                cf = Some(Consolidation::parse(t.trim()).ok_or_else(|| {
                    RrdError::new(format!("{t:?} is not a consolidation function"))
                })?);
            }
            xml::Event::Start("pdp_per_row") => pdp = Some(parse_int(&r.text()?, "pdp_per_row")?),
            xml::Event::Start("database") => loop {
                match r.next()? {
                    xml::Event::Start("row") => {
                        let mut values = Vec::with_capacity(width);
                        loop {
                            match r.next()? {
                                xml::Event::Start("v") => values.push(parse_number(&r.text()?)?),
                                xml::Event::End(_) => break,
                                other => {
                                    return Err(RrdError::new(format!(
                                        "unexpected {other:?} in a <row>"
                                    )))
                                }
                            }
                        }
                        if values.len() != width {
                            return Err(RrdError::new(format!(
                                "a row has {} values for {width} data sources",
                                values.len()
                            )));
                        }
                        rows.push(values);
                    }
                    xml::Event::End(_) => break,
                    other => {
                        return Err(RrdError::new(format!("unexpected {other:?} in <database>")))
                    }
                }
            },
            // params, cdp_prep: the archive's state between rows, not data.
            xml::Event::Start(_) => r.skip()?,
            xml::Event::End(_) => break,
            other => return Err(RrdError::new(format!("unexpected {other:?} in <rra>"))),
        }
    }
    let cf = cf.ok_or_else(|| RrdError::new("an <rra> has no <cf>"))?;
    let pdp = pdp.ok_or_else(|| RrdError::new("an <rra> has no <pdp_per_row>"))?;
    if pdp <= 0 {
        return Err(RrdError::new(format!("pdp_per_row {pdp} is not positive")));
    }
    Ok((cf, pdp, rows))
}

/// The dump the tests read, for the usage tests too.
#[cfg(test)]
pub(super) fn tests_dump() -> &'static str {
    tests::DUMP
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) const DUMP: &str = "<?xml version=\"1.0\"?><rrd><version>0003</version><step>5</step>\
        <lastupdate>1700000012</lastupdate>\
        <ds><name>cpu0</name><type>DERIVE</type><minimal_heartbeat>300.0</minimal_heartbeat>\
        <min>0.0</min><max>1.0</max><last_ds>0</last_ds><value>0.0</value><unknown_sec>0</unknown_sec></ds>\
        <ds><name>memory</name><type>GAUGE</type><minimal_heartbeat>300.0</minimal_heartbeat>\
        <min>0.0</min><max>Infinity</max><last_ds>0</last_ds><value>0.0</value><unknown_sec>0</unknown_sec></ds>\
        <rra><cf>AVERAGE</cf><pdp_per_row>1</pdp_per_row><params><xff>0.5</xff></params>\
        <cdp_prep><ds><primary_value>0.0</primary_value><secondary_value>0.0</secondary_value>\
        <value>NaN</value><unknown_datapoints>0</unknown_datapoints></ds></cdp_prep>\
        <database><!-- oldest --><row><v>0.1</v><v>100</v></row><row><v>0.2</v><v>200</v></row>\
        <row><v>NaN</v><v>300</v></row></database></rra>\
        <rra><cf>AVERAGE</cf><pdp_per_row>12</pdp_per_row><params><xff>0.5</xff></params>\
        <cdp_prep></cdp_prep><database><row><v>0.15</v><v>150</v></row></database></rra>\
        </rrd>";

    #[test]
    fn reads_a_dump_with_row_times() {
        let rrd = Rrd::parse(DUMP.as_bytes()).unwrap();
        assert_eq!((rrd.step, rrd.last_update), (5, 1_700_000_012));
        assert_eq!(rrd.sources.len(), 2);
        assert_eq!(rrd.sources[1].max, f64::INFINITY);
        assert_eq!(rrd.source("memory"), Some(1));
        let fine = rrd.finest(Consolidation::Average).unwrap();
        assert_eq!((fine.pdp_per_row, fine.step), (1, 5));
        // Newest first; the newest row ends at 1700000010, the last 5 s boundary.
        let times: Vec<_> = fine.rows.iter().map(|r| r.time).collect();
        assert_eq!(times, vec![1_700_000_010, 1_700_000_005, 1_700_000_000]);
        assert!(fine.rows[0].values[0].is_nan());
        assert_eq!(fine.rows[2].values, vec![0.1, 100.0]);
        let coarse = &rrd.archives[1];
        assert_eq!((coarse.step, coarse.rows[0].time), (60, 1_699_999_980));
    }

    #[test]
    fn refuses_ragged_or_incomplete_dumps() {
        let ragged = DUMP.replace("<row><v>0.2</v><v>200</v></row>", "<row><v>0.2</v></row>");
        assert!(Rrd::parse(ragged.as_bytes()).is_err());
        let nostep = DUMP.replace("<step>5</step>", "");
        assert!(Rrd::parse(nostep.as_bytes()).is_err());
        let badcf = DUMP.replace(
            "<cf>AVERAGE</cf><pdp_per_row>12",
            "<cf>MEAN</cf><pdp_per_row>12",
        );
        assert!(Rrd::parse(badcf.as_bytes()).is_err());
        assert!(Rrd::parse(b"<rrd><step>5</step>").is_err());
    }
}
