//! Waiting for a child process (systemctl, journalctl, an env gate's Exec=) without a polling
//! loop, while staying able to stop within a second of SIGTERM and at a deadline.

use std::time::Duration;

/// Waits for a child's exit as an event: a pidfd (Linux 5.3) becomes readable when the child
/// exits, so a call that ends in 2 ms is seen at 2 ms, with no polling loop. SIGTERM
/// interrupts the wait (our handler has no SA_RESTART), and each wait is capped at 100 ms so a
/// signal that lands just before it is still noticed within the second we promise.
pub struct ChildExit(Option<std::os::fd::OwnedFd>);

impl ChildExit {
    pub fn watch(child: &std::process::Child) -> ChildExit {
        use std::os::fd::FromRawFd;
        // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1; the
        // child is not reaped before we are done with it, so the pid is still its own.
        let fd = unsafe { nix::libc::syscall(nix::libc::SYS_pidfd_open, child.id(), 0) };
        // SAFETY: a non-negative result is a descriptor that nothing else owns.
        ChildExit((fd >= 0).then(|| unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as i32) }))
    }

    /// Until the child exits, a signal arrives, or `left` (at most 100 ms) has passed.
    pub fn wait(&self, left: Duration) {
        let slice = left.min(Duration::from_millis(100));
        match &self.0 {
            Some(fd) => {
                use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
                use std::os::fd::AsFd;
                let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
                // At most 100 ms (the slice), so it fits.
                let ms = PollTimeout::from(slice.as_millis().clamp(1, 100) as u16);
                let _ = poll(&mut fds, ms);
            }
            // No pidfd (a kernel older than 5.3): look again shortly.
            None => std::thread::sleep(slice.min(Duration::from_millis(5))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The wait ends with the child, not in small polling steps: a 0.2 s child is seen in a
    /// few waits (each at most 100 ms), where a polling loop would take dozens.
    #[test]
    fn a_wait_ends_when_the_child_exits() {
        let mut child = std::process::Command::new("sleep")
            .arg("0.2")
            .spawn()
            .unwrap();
        let exit = ChildExit::watch(&child);
        assert!(exit.0.is_some(), "pidfd_open failed on this kernel");
        let mut waits = 0;
        while child.try_wait().unwrap().is_none() {
            exit.wait(Duration::from_secs(10));
            waits += 1;
        }
        assert!(waits <= 6, "{waits} waits for a 0.2 s child");
    }
}
