//! The scenario's Rust driver: runs `tests/scenario/scenario.txt` (the file's head says what a step
//! means) through `Session::call` against the embedded simulator, in the xapi dialect over
//! XML-RPC and JSON-RPC and in the xend dialect. It only translates the steps; at the first one
//! that fails it names it and says why.
//!
//! `cargo test -p xenapi-tests --test scenario_data`

use std::collections::HashMap;
use std::path::PathBuf;

use xenapi::{Options, Protocol, Session, Value};
use xenapi_sim::{Config, Dialect, Simulator};

struct Step {
    line: usize,
    dialects: String,
    method: String,
    args: Vec<String>,
    keep: Option<(String, bool)>,
    expect: Vec<String>,
}

fn parse(text: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let words: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
        if words.is_empty() || words[0].starts_with('#') {
            continue;
        }
        let e = words
            .iter()
            .position(|w| w == "expect")
            .unwrap_or_else(|| panic!("scenario.txt:{}: a step needs `expect`", i + 1));
        assert!(e >= 2, "scenario.txt:{}: DIALECTS METHOD ... expect", i + 1);
        let (mut call, expect) = (words[..e].to_vec(), words[e + 1..].to_vec());
        let mut keep = None;
        if let Some(k) = call.iter().position(|w| w == "keep") {
            keep = Some((
                call[k + 1].clone(),
                call.get(k + 2).map(String::as_str) == Some("first"),
            ));
            call.truncate(k);
        }
        steps.push(Step {
            line: i + 1,
            dialects: call[0].clone(),
            method: call[1].clone(),
            args: call[2..].to_vec(),
            keep,
            expect,
        });
    }
    steps
}

/// A scalar as the file writes it: strings as they are, booleans `true`/`false`.
fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

struct Run {
    url: String,
    protocol: Protocol,
    session: Option<Session>,
    kept: HashMap<String, Value>,
}

impl Run {
    fn word(&self, w: &str) -> Result<Value, String> {
        if w.starts_with('$') {
            return self
                .kept
                .get(w)
                .cloned()
                .ok_or_else(|| format!("{w} is not kept by an earlier step"));
        }
        Ok(match w {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::String(w.to_owned()),
        })
    }

    fn word_text(&self, w: &str) -> Result<String, String> {
        let v = self.word(w)?;
        text(&v).ok_or_else(|| format!("{w} is not a scalar: {v:?}"))
    }

    /// The call's result, or the server's failure as `Err(Some(description))`; a failure that
    /// is not the server's is the step's own error.
    fn call(&mut self, step: &Step) -> Result<Result<Value, Vec<String>>, String> {
        let args = step
            .args
            .iter()
            .map(|a| self.word(a))
            .collect::<Result<Vec<_>, _>>()?;
        let outcome = match step.method.as_str() {
            "login" => {
                let (user, password) = (step.args[0].as_str(), step.args[1].as_str());
                let options = Options::new(self.url.clone()).protocol(self.protocol);
                Session::connect(options, user, password).map(|s| {
                    self.session = Some(s);
                    Value::String(String::new())
                })
            }
            "logout" => self
                .session()?
                .logout()
                .map(|()| Value::String(String::new())),
            m => self.session()?.call(m, args),
        };
        match outcome {
            Ok(v) => Ok(Ok(v)),
            Err(e) => match e.failure() {
                Some(f) => Ok(Err(f.description().to_vec())),
                None => Err(format!("failed, not with a XenAPI error: {e}")),
            },
        }
    }

    fn session(&self) -> Result<&Session, String> {
        self.session
            .as_ref()
            .ok_or_else(|| "no login before this step".to_owned())
    }

    fn check(&self, expect: &[String], outcome: &Result<Value, Vec<String>>) -> Result<(), String> {
        let kind = expect.first().map(String::as_str).unwrap_or("");
        if kind == "error" {
            let got = match outcome {
                Ok(v) => {
                    return Err(format!(
                        "wanted the error {}, the call gave {v:?}",
                        expect[1]
                    ))
                }
                Err(d) => d,
            };
            let want = expect[1..]
                .iter()
                .map(|w| {
                    if w == "*" {
                        Ok(w.clone())
                    } else {
                        self.word_text(w)
                    }
                })
                .collect::<Result<Vec<_>, _>>()?;
            if got.len() != want.len() || want.iter().zip(got).any(|(w, g)| w != "*" && w != g) {
                return Err(format!(
                    "wanted the error {}, got {}",
                    want.join(" "),
                    got.join(" ")
                ));
            }
            return Ok(());
        }
        let v = match outcome {
            Ok(v) => v,
            Err(d) => return Err(format!("failed: {}", d.join(" "))),
        };
        match kind {
            "ok" => Ok(()),
            "=" => {
                let want = self.word_text(&expect[1])?;
                (text(v).as_deref() == Some(want.as_str()))
                    .then_some(())
                    .ok_or_else(|| format!("wanted {want}, got {v:?}"))
            }
            "field" => {
                let (name, want) = (&expect[1], self.word_text(&expect[3])?);
                let field = v
                    .get(name)
                    .ok_or_else(|| format!("wanted a record with the field {name}, got {v:?}"))?;
                (text(field).as_deref() == Some(want.as_str()))
                    .then_some(())
                    .ok_or_else(|| format!("field {name}: wanted {want}, got {field:?}"))
            }
            "has" => v
                .get(&expect[1])
                .map(|_| ())
                .ok_or_else(|| format!("wanted a record with the field {}, got {v:?}", expect[1])),
            "contains" => {
                let want = self.word_text(&expect[1])?;
                let found = v
                    .as_array()
                    .is_some_and(|a| a.iter().any(|x| text(x).as_deref() == Some(want.as_str())));
                found
                    .then_some(())
                    .ok_or_else(|| format!("wanted a list holding {want}, got {v:?}"))
            }
            "nonempty" => {
                let n = match v {
                    Value::String(s) => s.len(),
                    Value::Array(a) => a.len(),
                    Value::Struct(s) => s.len(),
                    _ => 0,
                };
                (n > 0)
                    .then_some(())
                    .ok_or_else(|| format!("wanted a non-empty value, got {v:?}"))
            }
            other => Err(format!("unknown expectation {other:?}")),
        }
    }

    fn step(&mut self, step: &Step) -> Result<(), String> {
        let outcome = self.call(step)?;
        self.check(&step.expect, &outcome)?;
        if let (Some((name, first)), Ok(v)) = (&step.keep, outcome) {
            let v = if *first {
                v.as_array()
                    .and_then(|a| a.first().cloned())
                    .ok_or_else(|| {
                        format!("keep {name} first: wanted a non-empty list, got {v:?}")
                    })?
            } else {
                v
            };
            self.kept.insert(name.clone(), v);
        }
        Ok(())
    }
}

fn run(dialect: Dialect, protocol: Protocol) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/scenario/scenario.txt");
    let text = std::fs::read_to_string(&path).expect("tests/scenario/scenario.txt");
    let sim = Simulator::start(Config {
        dialect,
        vms: 4,
        templates: 0,
        ..Config::default()
    })
    .expect("the simulator starts");
    let name = match dialect {
        Dialect::Xapi => "xapi",
        Dialect::Xend => "xend",
    };
    let mut r = Run {
        url: sim.url(),
        protocol,
        session: None,
        kept: HashMap::new(),
    };
    let mut ran = 0;
    for step in parse(&text)
        .iter()
        .filter(|s| s.dialects == "any" || s.dialects == name)
    {
        if let Err(why) = r.step(step) {
            panic!(
                "step {}: {} {} ({name}, {protocol:?}): FAILED: {why}",
                step.line,
                step.method,
                step.args.join(" ")
            );
        }
        ran += 1;
    }
    assert!(ran >= 20, "only {ran} steps ran in {name}");
    println!("scenario: {ran} steps passed ({name}, {protocol:?})");
    sim.stop();
}

#[test]
fn scenario_xapi_xmlrpc() {
    run(Dialect::Xapi, Protocol::XmlRpc);
}

#[test]
fn scenario_xapi_jsonrpc() {
    run(Dialect::Xapi, Protocol::JsonRpc);
}

#[test]
fn scenario_xend() {
    run(Dialect::Xend, Protocol::XmlRpc);
}
