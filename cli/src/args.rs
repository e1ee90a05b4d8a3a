//! Command-line parsing: global options, then one command with its own flags.

use std::time::Duration;

pub const USAGE: &str = "\
usage: xenctl [OPTIONS] COMMAND [ARGS]

Drive a XenAPI host (xapi or xend) the way `xm` does.

options (environment: XENAPI_URL, XENAPI_USER, XENAPI_PASSWORD):
  --url URL              server, e.g. https://xs1 or http://127.0.0.1:9363
  --user USER            login name (default root)
  --password PASSWORD    password (prefer --password-env or XENAPI_PASSWORD)
  --password-env VAR     read the password from environment variable VAR
  --fingerprint SHA256   accept only the certificate with this SHA-256 fingerprint
  --ca FILE              verify the certificate against the PEM certificates in FILE
  --insecure             do not verify the certificate at all (labs only)
  --timeout SECS         deadline of each call (default 300)
  --no-follow            do not follow HOST_IS_SLAVE to the pool coordinator
  --protocol P           auto (default: JSON-RPC if offered), jsonrpc or xmlrpc
  --verbose              say on stderr where and over which protocol xenctl connected

commands:
  list                   VMs: Name, ID, Mem MiB, VCPUs, State, CPU%
  start [--paused] VM    start a halted VM
  shutdown [--force] VM  shut a VM down and wait until it is halted
  reboot [--force] VM    reboot a VM
  pause VM | unpause VM  pause or unpause a running VM
  suspend VM | resume VM suspend a running VM to disk, or resume it
  dmesg                  Xen's console ring of the coordinator
  log                    the xend/xapi log of the coordinator
  methods                every method the server offers
  top [--once | --iterations N] [--interval SECS]
                         CPU and memory use of every VM and the host, refreshed
                         every SECS (default 2) until interrupted
  rrd (host NAME | vm VM) [--minutes N]
                         CPU (per vCPU/pCPU), memory, disk and network use over
                         the last N minutes (default 5), from xapi's RRDs
  watch [--count N] [--seconds N] [CLASS...]
                         changes to objects of CLASS (default VM; e.g. VM host
                         SR) as they come, until interrupted
  vdi-export VDI-UUID FILE [--format raw|vhd]
                         a disk's content into FILE (default raw)
  vdi-import VDI-UUID FILE [--format raw|vhd]
                         replace a disk's content with FILE's (default raw)
  vm-export VM FILE [--compress]
                         a VM as an XVA into FILE (--compress: gzip)
  vm-import FILE [--sr SR-UUID]
                         import the XVA in FILE (into the pool's default SR, or
                         SR-UUID); prints the new VM's name and UUID
                         Transfers show a progress bar on a terminal; Ctrl-C
                         cancels them (and their task) and removes a partial FILE.

VM is a name label or a UUID.";

/// What the user asked for.
#[derive(Debug, PartialEq)]
pub struct Args {
    pub url: String,
    pub user: String,
    pub password: Option<String>,
    pub tls: Tls,
    pub timeout: Option<Duration>,
    pub follow_coordinator: bool,
    pub protocol: xenapi::Protocol,
    pub verbose: bool,
    pub command: Command,
}

/// Whose RRD `xenctl rrd` reads: a host's or a VM's, by name label or UUID.
#[derive(Debug, PartialEq)]
pub enum RrdObject {
    Host(String),
    Vm(String),
}

#[derive(Debug, PartialEq)]
pub enum Tls {
    Verify,
    Fingerprint(String),
    Ca(String),
    Insecure,
}

#[derive(Debug, PartialEq)]
pub enum Command {
    List,
    Start {
        vm: String,
        paused: bool,
    },
    Shutdown {
        vm: String,
        force: bool,
    },
    Reboot {
        vm: String,
        force: bool,
    },
    Pause(String),
    Unpause(String),
    Suspend(String),
    Resume(String),
    Dmesg,
    Log,
    Methods,
    Top {
        /// Refreshes, `None`: until interrupted.
        iterations: Option<u32>,
        interval: Duration,
    },
    /// Figures from xapi's RRDs over the last minutes.
    Rrd {
        object: RrdObject,
        minutes: u32,
    },
    Watch {
        /// Datamodel class names (`VM`, `host`).
        classes: Vec<String>,
        count: Option<u32>,
        seconds: Option<Duration>,
    },
    /// `/export_raw_vdi` into a file.
    VdiExport {
        vdi: String,
        file: String,
        format: xenapi::transfer::DiskFormat,
    },
    /// `/import_raw_vdi` from a file.
    VdiImport {
        vdi: String,
        file: String,
        format: xenapi::transfer::DiskFormat,
    },
    /// `/export` into a file.
    VmExport {
        vm: String,
        file: String,
        compress: bool,
    },
    /// `/import` from a file.
    VmImport {
        file: String,
        sr: Option<String>,
    },
    Help,
}

/// Parses `argv` (without the program name); `env` looks up environment variables.
pub fn parse(argv: &[String], env: impl Fn(&str) -> Option<String>) -> Result<Args, String> {
    let mut it = argv.iter().peekable();
    let mut url = env("XENAPI_URL");
    let mut user = env("XENAPI_USER");
    let mut password = env("XENAPI_PASSWORD");
    let mut tls = Tls::Verify;
    let mut timeout = None;
    let mut follow_coordinator = true;
    let mut protocol = xenapi::Protocol::Auto;
    let mut verbose = false;
    let mut tls_flags = 0;

    while let Some(arg) = it.peek().map(|s| s.as_str()) {
        if !arg.starts_with("--") {
            break;
        }
        it.next();
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match arg {
            "--url" => url = Some(value("--url")?),
            "--user" => user = Some(value("--user")?),
            "--password" => password = Some(value("--password")?),
            "--password-env" => {
                let var = value("--password-env")?;
                password = Some(
                    env(&var).ok_or_else(|| format!("environment variable {var} is not set"))?,
                );
            }
            "--fingerprint" => {
                tls = Tls::Fingerprint(value("--fingerprint")?);
                tls_flags += 1;
            }
            "--ca" => {
                tls = Tls::Ca(value("--ca")?);
                tls_flags += 1;
            }
            "--insecure" => {
                tls = Tls::Insecure;
                tls_flags += 1;
            }
            "--timeout" => timeout = Some(seconds("--timeout", &value("--timeout")?)?),
            "--no-follow" => follow_coordinator = false,
            "--verbose" => verbose = true,
            "--protocol" => {
                let p = value("--protocol")?;
                protocol = xenapi::Protocol::parse(&p)
                    .ok_or_else(|| format!("--protocol: {p:?} is not auto, jsonrpc or xmlrpc"))?;
            }
            "--help" => {
                return Ok(Args {
                    url: String::new(),
                    user: String::new(),
                    password: None,
                    tls,
                    timeout,
                    follow_coordinator,
                    protocol,
                    verbose,
                    command: Command::Help,
                })
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    if tls_flags > 1 {
        return Err("choose one of --fingerprint, --ca and --insecure".into());
    }
    let rest: Vec<&str> = it.map(String::as_str).collect();
    let command = command(&rest)?;
    if command == Command::Help {
        url.get_or_insert_with(String::new);
    }
    let url = url.ok_or("no server: give --url URL or set XENAPI_URL")?;
    Ok(Args {
        url,
        user: user.unwrap_or_else(|| "root".to_owned()),
        password,
        tls,
        timeout,
        follow_coordinator,
        protocol,
        verbose,
        command,
    })
}

fn command(words: &[&str]) -> Result<Command, String> {
    let (name, rest) = words.split_first().ok_or("no command given")?;
    let mut flags = Vec::new();
    let mut values = Vec::new();
    let mut i = 0;
    while i < rest.len() {
        let w = rest[i];
        match w {
            "--count" | "--interval" | "--timeout" | "--iterations" | "--seconds" | "--minutes"
            | "--format" | "--sr" => {
                let v = rest
                    .get(i + 1)
                    .ok_or_else(|| format!("{w} needs a value"))?;
                flags.push((w, Some(*v)));
                i += 2;
                continue;
            }
            _ if w.starts_with("--") => flags.push((w, None)),
            _ => values.push(w),
        }
        i += 1;
    }
    let flag = |f: &str| flags.iter().any(|(n, _)| *n == f);
    let flag_value = |f: &str| flags.iter().find(|(n, _)| *n == f).and_then(|(_, v)| *v);
    let allowed: &[&str] = match *name {
        "start" => &["--paused"],
        "shutdown" | "reboot" => &["--force"],
        "top" => &["--once", "--iterations", "--count", "--interval"],
        "rrd" => &["--minutes"],
        "watch" => &["--count", "--seconds", "--timeout"],
        "vdi-export" | "vdi-import" => &["--format"],
        "vm-export" => &["--compress"],
        "vm-import" => &["--sr"],
        _ => &[],
    };
    if let Some((bad, _)) = flags.iter().find(|(n, _)| !allowed.contains(n)) {
        return Err(format!("{name} does not take {bad}"));
    }
    let one_vm = || -> Result<String, String> {
        match values.as_slice() {
            [vm] => Ok((*vm).to_owned()),
            [] => Err(format!("{name} needs a VM (name label or UUID)")),
            _ => Err(format!("{name} takes one VM")),
        }
    };
    let none = || -> Result<(), String> {
        if values.is_empty() {
            Ok(())
        } else {
            Err(format!("{name} takes no arguments"))
        }
    };
    let count = |f: &str| -> Result<Option<u32>, String> {
        flag_value(f)
            .map(|v| v.parse().map_err(|_| format!("{f} takes a whole number")))
            .transpose()
    };
    Ok(match *name {
        "list" => none().map(|_| Command::List)?,
        "start" => Command::Start {
            vm: one_vm()?,
            paused: flag("--paused"),
        },
        "shutdown" => Command::Shutdown {
            vm: one_vm()?,
            force: flag("--force"),
        },
        "reboot" => Command::Reboot {
            vm: one_vm()?,
            force: flag("--force"),
        },
        "pause" => Command::Pause(one_vm()?),
        "unpause" => Command::Unpause(one_vm()?),
        "suspend" => Command::Suspend(one_vm()?),
        "resume" => Command::Resume(one_vm()?),
        "dmesg" => none().map(|_| Command::Dmesg)?,
        "log" => none().map(|_| Command::Log)?,
        "methods" => none().map(|_| Command::Methods)?,
        "top" => {
            none()?;
            if flag("--once") && (flag("--iterations") || flag("--count")) {
                return Err("top takes --once or --iterations N, not both".into());
            }
            // --count: the older name of --iterations.
            let iterations = match count("--iterations")? {
                Some(n) => Some(n),
                None => count("--count")?,
            };
            Command::Top {
                iterations: if flag("--once") { Some(1) } else { iterations },
                interval: flag_value("--interval")
                    .map(|v| seconds("--interval", v))
                    .transpose()?
                    .unwrap_or(Duration::from_secs(2)),
            }
        }
        "rrd" => {
            let object = match values.as_slice() {
                ["host", name] => RrdObject::Host((*name).to_owned()),
                ["vm", name] => RrdObject::Vm((*name).to_owned()),
                _ => return Err("rrd takes `host NAME` or `vm VM`".into()),
            };
            let minutes = count("--minutes")?.unwrap_or(5);
            if minutes == 0 || minutes > 60 * 24 * 366 {
                return Err("--minutes takes a number from 1 to a year's".into());
            }
            Command::Rrd { object, minutes }
        }
        "watch" => {
            // --timeout: the older name of --seconds.
            let seconds_flag = if flag("--seconds") {
                "--seconds"
            } else {
                "--timeout"
            };
            Command::Watch {
                classes: if values.is_empty() {
                    vec!["VM".to_owned()]
                } else {
                    values.iter().map(|v| (*v).to_owned()).collect()
                },
                count: count("--count")?,
                seconds: flag_value(seconds_flag)
                    .map(|v| seconds(seconds_flag, v))
                    .transpose()?,
            }
        }
        "vdi-export" | "vdi-import" => {
            let [vdi, file] = values.as_slice() else {
                return Err(format!("{name} takes a VDI's UUID and a file"));
            };
            let format =
                xenapi::transfer::DiskFormat::parse(flag_value("--format").unwrap_or("raw"))
                    .map_err(|_| "--format takes raw or vhd".to_owned())?;
            let (vdi, file) = ((*vdi).to_owned(), (*file).to_owned());
            if *name == "vdi-export" {
                Command::VdiExport { vdi, file, format }
            } else {
                Command::VdiImport { vdi, file, format }
            }
        }
        "vm-export" => {
            let [vm, file] = values.as_slice() else {
                return Err("vm-export takes a VM and a file".into());
            };
            Command::VmExport {
                vm: (*vm).to_owned(),
                file: (*file).to_owned(),
                compress: flag("--compress"),
            }
        }
        "vm-import" => {
            let [file] = values.as_slice() else {
                return Err("vm-import takes one file".into());
            };
            Command::VmImport {
                file: (*file).to_owned(),
                sr: flag_value("--sr").map(str::to_owned),
            }
        }
        "help" => Command::Help,
        other => return Err(format!("unknown command {other} (see xenctl --help)")),
    })
}

fn seconds(flag: &str, v: &str) -> Result<Duration, String> {
    v.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s > 0.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| format!("{flag} takes a positive number of seconds"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(words: &str, env: &[(&str, &str)]) -> Result<Args, String> {
        let argv: Vec<String> = words.split_whitespace().map(str::to_owned).collect();
        parse(&argv, |k| {
            env.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn rrd_takes_an_object_and_minutes() {
        let a = p("--url http://h rrd vm vm01 --minutes 15", &[]).unwrap();
        assert_eq!(
            a.command,
            Command::Rrd {
                object: RrdObject::Vm("vm01".into()),
                minutes: 15
            }
        );
        let a = p("--url http://h rrd host host01", &[]).unwrap();
        assert_eq!(
            a.command,
            Command::Rrd {
                object: RrdObject::Host("host01".into()),
                minutes: 5
            }
        );
        assert!(p("--url http://h rrd sr x", &[]).is_err());
        assert!(p("--url http://h rrd vm", &[]).is_err());
        assert!(p("--url http://h rrd vm a --minutes 0", &[]).is_err());
    }

    #[test]
    fn options_and_commands() {
        let a = p("--url http://h:1 --insecure start --paused vm01", &[]).unwrap();
        assert_eq!(a.url, "http://h:1");
        assert_eq!(a.tls, Tls::Insecure);
        assert_eq!(
            a.command,
            Command::Start {
                vm: "vm01".into(),
                paused: true
            }
        );
        let a = p("shutdown vm02 --force", &[("XENAPI_URL", "http://x")]).unwrap();
        assert_eq!(
            a.command,
            Command::Shutdown {
                vm: "vm02".into(),
                force: true
            }
        );
        assert_eq!(a.user, "root");
    }

    #[test]
    fn protocol_and_verbose() {
        let a = p("--url u --protocol jsonrpc --verbose list", &[]).unwrap();
        assert_eq!(a.protocol, xenapi::Protocol::JsonRpc);
        assert!(a.verbose);
        let a = p("--url u list", &[]).unwrap();
        assert_eq!(a.protocol, xenapi::Protocol::Auto);
        assert!(!a.verbose);
        assert!(p("--url u --protocol soap list", &[])
            .unwrap_err()
            .contains("auto, jsonrpc or xmlrpc"));
    }

    #[test]
    fn password_from_env_var() {
        let a = p("--url u --password-env PW list", &[("PW", "s3cret")]).unwrap();
        assert_eq!(a.password.as_deref(), Some("s3cret"));
        assert!(p("--url u --password-env NOPE list", &[]).is_err());
    }

    #[test]
    fn top_and_watch() {
        let cmd = |w: &str| p(&format!("--url u {w}"), &[]).map(|a| a.command);
        let two = Duration::from_secs(2);
        assert_eq!(
            cmd("top").unwrap(),
            Command::Top {
                iterations: None,
                interval: two
            }
        );
        assert_eq!(
            cmd("top --once").unwrap(),
            Command::Top {
                iterations: Some(1),
                interval: two
            }
        );
        assert_eq!(
            cmd("top --iterations 3 --interval 0.5").unwrap(),
            Command::Top {
                iterations: Some(3),
                interval: Duration::from_millis(500)
            }
        );
        assert!(cmd("top --once --iterations 2").is_err());
        assert_eq!(
            cmd("watch").unwrap(),
            Command::Watch {
                classes: vec!["VM".into()],
                count: None,
                seconds: None
            }
        );
        assert_eq!(
            cmd("watch --count 2 --seconds 1.5 VM host").unwrap(),
            Command::Watch {
                classes: vec!["VM".into(), "host".into()],
                count: Some(2),
                seconds: Some(Duration::from_millis(1500))
            }
        );
        assert!(cmd("watch --seconds 0").is_err());
    }

    #[test]
    fn transfer_commands() {
        use xenapi::transfer::DiskFormat;
        let p = |w: &str, e: &[(&str, &str)]| p(&format!("--url http://x {w}"), e);
        assert_eq!(
            p("vdi-export 0a-1 /tmp/d.vhd --format vhd", &[])
                .unwrap()
                .command,
            Command::VdiExport {
                vdi: "0a-1".into(),
                file: "/tmp/d.vhd".into(),
                format: DiskFormat::Vhd
            }
        );
        assert_eq!(
            p("vdi-import 0a-1 d.raw", &[]).unwrap().command,
            Command::VdiImport {
                vdi: "0a-1".into(),
                file: "d.raw".into(),
                format: DiskFormat::Raw
            }
        );
        assert_eq!(
            p("vm-export vm01 vm.xva --compress", &[]).unwrap().command,
            Command::VmExport {
                vm: "vm01".into(),
                file: "vm.xva".into(),
                compress: true
            }
        );
        assert_eq!(
            p("vm-import vm.xva --sr 5r", &[]).unwrap().command,
            Command::VmImport {
                file: "vm.xva".into(),
                sr: Some("5r".into())
            }
        );
        assert!(p("vdi-export 0a-1 f --format qcow", &[])
            .unwrap_err()
            .contains("raw or vhd"));
        assert!(p("vdi-export 0a-1", &[]).is_err());
        assert!(p("vm-import a b", &[]).is_err());
        assert!(p("vm-export vm01 f --sr x", &[]).is_err());
    }

    #[test]
    fn mistakes_are_explained() {
        assert!(p("list", &[]).unwrap_err().contains("XENAPI_URL"));
        assert!(p("--url u start", &[]).unwrap_err().contains("needs a VM"));
        assert!(p("--url u pause --force vm", &[])
            .unwrap_err()
            .contains("--force"));
        assert!(p("--url u --insecure --ca f list", &[]).is_err());
        assert!(p("--url u frobnicate", &[])
            .unwrap_err()
            .contains("unknown command"));
        assert!(p("--url u top --count x", &[]).is_err());
    }
}
