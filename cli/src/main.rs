//! `xenctl`: the talk's `xm.exe`, for xapi, xend and the simulator.

mod args;
mod commands;
mod interrupt;
mod table;
mod transfer;

use std::process::ExitCode;

use xenapi::{Options, Session, TlsPolicy};

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = match args::parse(&argv, |k| std::env::var(k).ok()) {
        Ok(a) => a,
        Err(msg) => {
            eprintln!("xenctl: {msg}\n\n{}", args::USAGE);
            return ExitCode::from(2);
        }
    };
    if args.command == args::Command::Help {
        println!("{}", args::USAGE);
        return ExitCode::SUCCESS;
    }
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) if commands::OUTPUT_CLOSED.load(std::sync::atomic::Ordering::Relaxed) => {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("xenctl: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: args::Args) -> Result<(), commands::Failed> {
    let tls = match &args.tls {
        args::Tls::Verify => TlsPolicy::Verify,
        args::Tls::Fingerprint(f) => TlsPolicy::fingerprint(f).map_err(commands::Failed::from)?,
        args::Tls::Ca(path) => TlsPolicy::CaFile(path.into()),
        args::Tls::Insecure => TlsPolicy::InsecureSkipVerify,
    };
    let mut options = Options::new(&args.url)
        .tls(tls)
        .follow_coordinator(args.follow_coordinator)
        .protocol(args.protocol)
        .originator("xenctl");
    if let Some(t) = args.timeout {
        options = options.timeout(t);
    }
    let password = args.password.as_deref().ok_or_else(|| {
        xenapi::Error::InvalidArgument(
            "no password: use --password-env VAR, XENAPI_PASSWORD or --password".into(),
        )
    })?;
    let session =
        Session::connect(options, &args.user, password).map_err(commands::Failed::from)?;
    if args.verbose {
        eprintln!(
            "xenctl: connected to {} as {} ({:?}, transport: {})",
            session.url(),
            args.user,
            session.dialect(),
            session.protocol().as_str()
        );
    }
    let mut stdout = std::io::stdout().lock();
    let result = commands::run(&session, &args.command, &mut stdout);
    // Log out even when the command failed; report the command's error first.
    let logout = session.logout();
    result.and(logout.map_err(commands::Failed::from))
}
