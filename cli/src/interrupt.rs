//! Ctrl-C during a transfer: the first one cancels it (the transfer closes its connection and
//! cancels its task), a second one ends the program at once, as Ctrl-C does by default.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use xenapi::transfer::Cancel;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

#[cfg(unix)]
mod sys {
    use std::os::raw::c_int;

    pub const SIGINT: c_int = 2;
    /// `SIG_DFL`.
    pub const DEFAULT: usize = 0;

    extern "C" {
        pub fn signal(signum: c_int, handler: usize) -> usize;
    }

    pub extern "C" fn on_interrupt(_: c_int) {
        super::INTERRUPTED.store(true, super::Ordering::SeqCst);
        // Async-signal-safe (POSIX): the next Ctrl-C ends the program.
        unsafe {
            signal(SIGINT, DEFAULT);
        }
    }
}

/// While alive, Ctrl-C cancels `cancel`.
pub struct Guard {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Installs the handler; the guard removes it.
pub fn cancel_on_interrupt(cancel: &Cancel) -> Guard {
    INTERRUPTED.store(false, Ordering::SeqCst);
    #[cfg(unix)]
    unsafe {
        sys::signal(sys::SIGINT, sys::on_interrupt as extern "C" fn(_) as usize);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let (c, s) = (cancel.clone(), Arc::clone(&stop));
    let thread = std::thread::spawn(move || {
        while !s.load(Ordering::SeqCst) {
            if INTERRUPTED.load(Ordering::SeqCst) {
                c.cancel();
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    });
    Guard {
        stop,
        thread: Some(thread),
    }
}

/// Whether Ctrl-C was pressed since the handler was installed.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        #[cfg(unix)]
        unsafe {
            sys::signal(sys::SIGINT, sys::DEFAULT);
        }
    }
}
